package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.zrepl4j.fuzz.FuzzHarness;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.zip.Deflater;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Fuzzes {@link ResumeToken#decode}, the token a receiver (a peer, in a pull) reports. The first
 * byte picks what the rest is: even, the token text itself; odd, a packed nvlist that the test
 * compresses, checksums and wraps into a well-formed token, so the fuzzer reaches the nvlist
 * decoder through the public entry point instead of stopping at the checksum. Property ({@link
 * FuzzHarness}): an {@link IllegalArgumentException} with a message (what decode documents), or a
 * token whose nvlist holds its toguid; allocation under the 1 MiB packed-size limit times 16 plus
 * 64 times the input. Seeds: {@code src/test/resources/dev/zrepl4j/zfs/ResumeTokenFuzzTestInputs}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ResumeTokenFuzzTest {
  private final FuzzHarness harness =
      new FuzzHarness("resume-token", IllegalArgumentException.class);

  @FuzzTest(maxDuration = "2s")
  void token(byte[] input) {
    if (input.length == 0) {
      return;
    }
    byte[] rest = Arrays.copyOfRange(input, 1, input.length);
    String token = (input[0] & 1) == 0 ? new String(rest, StandardCharsets.ISO_8859_1) : wrap(rest);
    harness.check(
        16L * (1 << 20) + 64L * input.length,
        () -> {
          var t = ResumeToken.decode(token);
          assertThat(t.nvlist()).containsEntry("toguid", t.toGuid());
          assertThat(t.toString()).isNotEmpty();
        });
  }

  /** A well-formed token around a packed nvlist: zlib, fletcher-4, sizes, hex. */
  static String wrap(byte[] packed) {
    var d = new Deflater();
    d.setInput(packed);
    d.finish();
    var out = new ByteArrayOutputStream();
    var b = new byte[4096];
    while (!d.finished()) {
      out.write(b, 0, d.deflate(b));
    }
    d.end();
    byte[] z = out.toByteArray();
    return "1-"
        + Long.toHexString(ResumeToken.fletcher4First(z, ByteOrder.LITTLE_ENDIAN))
        + "-"
        + Integer.toHexString(packed.length)
        + "-"
        + HexFormat.of().formatHex(z);
  }

  /** CI's short pass: the corpus mutated at random (the long run is Jazzer's). */
  @Test
  void survivesMutationsOfItsCorpus() throws Exception {
    harness.mutations(ResumeTokenFuzzTest.class, "token", FuzzHarness.MUTATIONS, this::token);
  }

  @AfterAll
  void counts() throws IOException {
    harness.close();
  }
}
