package dev.zrepl4j.rpc.transport;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.zrepl4j.fuzz.FuzzHarness;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Fuzzes the PEM reader ({@link Pem#certificates} and {@link Pem#privateKey}) on file contents:
 * each input is written to a file and read both ways, as the TLS settings read {@code ca}, {@code
 * cert} and {@code key} files. Property ({@link FuzzHarness}): an {@link IOException} with a
 * message, or at least one certificate / a key; allocation under 128 times the input plus 2 MiB.
 * Seeds (keys and certificates made with openssl for this test only): {@code
 * src/test/resources/dev/zrepl4j/rpc/transport/PemFuzzTestInputs}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PemFuzzTest {
  private final FuzzHarness harness = new FuzzHarness("pem", IOException.class);
  private final Path file;

  PemFuzzTest() throws IOException {
    file = Files.createTempFile("pem-fuzz", ".pem");
  }

  @FuzzTest(maxDuration = "2s")
  @DictionaryEntries({
    "-----BEGIN CERTIFICATE-----",
    "-----END CERTIFICATE-----",
    "-----BEGIN PRIVATE KEY-----",
    "-----END PRIVATE KEY-----",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----BEGIN EC PRIVATE KEY-----",
    "-----END EC PRIVATE KEY-----",
    "Proc-Type: 4,ENCRYPTED",
    "DEK-Info: AES-128-CBC,"
  })
  void pem(byte[] input) throws IOException {
    Files.write(file, input);
    harness.check(
        128L * input.length + 2 * 1024 * 1024,
        () -> {
          try {
            assertThat(Pem.certificates(file)).isNotEmpty();
          } catch (IOException e) {
            assertThat(e.getMessage()).isNotBlank();
          }
          assertThat(Pem.privateKey(file)).isNotNull();
        });
  }

  /** CI's short pass: the corpus mutated at random (the long run is Jazzer's). */
  @Test
  void survivesMutationsOfItsCorpus() throws Exception {
    harness.mutations(PemFuzzTest.class, "pem", FuzzHarness.MUTATIONS, this::pem);
  }

  @AfterAll
  void counts() throws IOException {
    harness.close();
    Files.deleteIfExists(file);
  }
}
