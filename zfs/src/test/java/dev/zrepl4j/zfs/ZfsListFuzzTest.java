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
 * Fuzzes the parser of OpenZFS's version listing, {@code zfs list -H -p -o
 * name,guid,createtxg,creation,userrefs -t snapshot,bookmark} ({@link ZfsOutput#parseVersionList}).
 * Property ({@link FuzzHarness}): a {@link ZfsParseException} with a message, or one version per
 * line, grouped under its filesystem and ordered by createtxg; allocation under 64 times the input
 * plus 1 MiB. Seeds: {@code src/test/resources/dev/zrepl4j/zfs/ZfsListFuzzTestInputs}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ZfsListFuzzTest {
  private final FuzzHarness harness = new FuzzHarness("zfs-list", ZfsParseException.class);

  @FuzzTest(maxDuration = "2s")
  @DictionaryEntries({"pool/fs@", "pool/fs#", "\t-", "18446744073709551615", "\t0\t"})
  void versionList(byte[] input) {
    harness.check(
        64L * input.length + 1024 * 1024,
        () -> {
          var versions = ZfsOutput.parseVersionList(new ByteArrayInputStream(input));
          int lines = 0;
          for (byte b : input) {
            lines += b == '\n' ? 1 : 0;
          }
          int n = 0;
          for (var e : versions.entrySet()) {
            long txg = 0;
            for (var v : e.getValue()) {
              assertThat(v.filesystem()).isEqualTo(e.getKey());
              assertThat(Long.compareUnsigned(v.createTxg(), txg)).isNotNegative();
              txg = v.createTxg();
              n++;
            }
          }
          assertThat(n).isEqualTo(lines);
        });
  }

  /** CI's short pass: the corpus mutated at random (the long run is Jazzer's). */
  @Test
  void survivesMutationsOfItsCorpus() throws Exception {
    harness.mutations(
        ZfsListFuzzTest.class, "versionList", FuzzHarness.MUTATIONS, this::versionList);
  }

  @AfterAll
  void counts() throws IOException {
    harness.close();
  }
}
