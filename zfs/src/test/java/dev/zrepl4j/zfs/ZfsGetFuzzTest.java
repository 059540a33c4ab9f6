package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.zrepl4j.fuzz.FuzzHarness;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Fuzzes the zfs-fuse dialect: {@code zfs get -H -p -o name,property,value,source
 * guid,createtxg,creation,userrefs -d 1} parsed into rows ({@link ZfsOutput#parseProperties}) and
 * versions ({@link ZfsOutput#versionsFromProperties}), as {@code RealZfs} lists versions on
 * zfs-fuse. Property ({@link FuzzHarness}): a {@link ZfsParseException} with a message, or one row
 * per line and versions that each had all four properties; allocation under 64 times the input plus
 * 1 MiB. Seeds: {@code src/test/resources/dev/zrepl4j/zfs/ZfsGetFuzzTestInputs}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ZfsGetFuzzTest {
  private final FuzzHarness harness = new FuzzHarness("zfs-get", ZfsParseException.class);

  @FuzzTest(maxDuration = "2s")
  @DictionaryEntries({"\tguid\t", "\tcreatetxg\t", "\tcreation\t", "\tuserrefs\t", "\t-", "@", "#"})
  void versionProperties(byte[] input) {
    harness.check(
        64L * input.length + 1024 * 1024,
        () -> {
          var rows = ZfsOutput.parseProperties(new ByteArrayInputStream(input));
          int lines = 0;
          for (byte b : input) {
            lines += b == '\n' ? 1 : 0;
          }
          assertThat(rows).hasSize(lines);
          var versions = ZfsOutput.versionsFromProperties(rows);
          int n = versions.values().stream().mapToInt(java.util.List::size).sum();
          assertThat(4L * n).isLessThanOrEqualTo(rows.size());
        });
  }

  /** CI's short pass: the corpus mutated at random (the long run is Jazzer's). */
  @Test
  void survivesMutationsOfItsCorpus() throws Exception {
    harness.mutations(
        ZfsGetFuzzTest.class, "versionProperties", FuzzHarness.MUTATIONS, this::versionProperties);
  }

  @AfterAll
  void counts() throws IOException {
    harness.close();
  }
}
