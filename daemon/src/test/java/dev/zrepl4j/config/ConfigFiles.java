package dev.zrepl4j.config;

import dev.zrepl4j.rpc.transport.TestCerts;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/** Copies the test configs of {@code src/test/resources/config/} into a temporary directory. */
final class ConfigFiles {
  private ConfigFiles() {}

  /** Copies resource {@code config/NAME} to {@code dir/NAME}, replacing {@code @DIR@} by dir. */
  static Path copy(Path dir, String name) {
    try (var in =
        Objects.requireNonNull(
            ConfigFiles.class.getResourceAsStream("/config/" + name), "resource " + name)) {
      var text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      var target = dir.resolve(name);
      Files.createDirectories(target.getParent());
      Files.writeString(target, text.replace("@DIR@", dir.toString()));
      return target;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The full example, its includes and its TLS files (a CA, and certificates and keys for prod and
   * backup, made by openssl); returns the main file.
   */
  static Path full(Path dir) throws IOException {
    copy(dir, "jobs.d/10-pull.yml");
    copy(dir, "jobs.d/20-more.yml");
    Files.writeString(dir.resolve("jobs.d/README.txt"), "not a yml file, not included");
    var certs = new TestCerts(dir);
    certs.ca("ca", "zrepl4j test CA", TestCerts.KeyType.EC_PKCS8);
    certs.client("prod", "prod", "ca", TestCerts.KeyType.EC_PKCS8);
    certs.server("backup", "backup", "ca", TestCerts.KeyType.EC_SEC1, "backup.example.com");
    return copy(dir, "full.yml");
  }
}
