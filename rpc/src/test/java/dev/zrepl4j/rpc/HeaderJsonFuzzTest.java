package dev.zrepl4j.rpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.zrepl4j.fuzz.FuzzHarness;
import java.io.IOException;
import java.net.ProtocolException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Fuzzes the header JSON parser ({@link Json#readHeader}) on its own, with messages up to the 4 KiB
 * a header message can hold. Property ({@link FuzzHarness}): a {@link ProtocolException} with a
 * message, or a header whose encoding reads back to the same header (encoding is stable after one
 * round); allocation under 256 times the input plus 1 MiB (Jackson's symbol table grows with each
 * distinct key). Seeds: {@code src/test/resources/dev/zrepl4j/rpc/HeaderJsonFuzzTestInputs}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HeaderJsonFuzzTest {
  private final FuzzHarness harness = new FuzzHarness("header-json", ProtocolException.class);

  @FuzzTest(maxDuration = "2s")
  @DictionaryEntries({
    "\"Endpoint\"",
    "\"DataType\"",
    "\"Accept\"",
    "\"Error\"",
    "\"ErrorMessage\"",
    "\"Code\"",
    "\"NOT_FOUND\"",
    "\\u2028",
    "\\ud800"
  })
  void header(byte[] input) {
    harness.check(
        256L * input.length + 1024 * 1024,
        () -> {
          Header h = Json.readHeader(input);
          byte[] once = h.encode();
          Header again = Json.readHeader(once);
          assertThat(again.encode()).isEqualTo(once);
          assertThat(again.dataType()).isEqualTo(h.dataType());
          assertThat(again.status()).isEqualTo(h.status());
          assertThat(again.code()).isEqualTo(h.code());
        });
  }

  /** CI's short pass: the corpus mutated at random (the long run is Jazzer's). */
  @Test
  void survivesMutationsOfItsCorpus() throws Exception {
    harness.mutations(HeaderJsonFuzzTest.class, "header", FuzzHarness.MUTATIONS, this::header);
  }

  @AfterAll
  void counts() throws IOException {
    harness.close();
  }
}
