package dev.zrepl4j.config;

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

  /** The full example, its includes and PEM files for its TLS keys; returns the main file. */
  static Path full(Path dir) throws IOException {
    copy(dir, "jobs.d/10-pull.yml");
    copy(dir, "jobs.d/20-more.yml");
    Files.writeString(dir.resolve("jobs.d/README.txt"), "not a yml file, not included");
    for (var cert : new String[] {"ca.crt", "prod.crt", "backup.crt"}) {
      Files.writeString(dir.resolve(cert), pem("CERTIFICATE"));
    }
    for (var key : new String[] {"prod.key", "backup.key"}) {
      Files.writeString(dir.resolve(key), pem("PRIVATE KEY"));
    }
    return copy(dir, "full.yml");
  }

  /** A syntactically valid PEM block (its content is not a real certificate or key). */
  static String pem(String type) {
    return "-----BEGIN "
        + type
        + "-----\nTUlJQ2RqQ0NBZDRDQVFBd0RRWUpLb1pJaHZjTkFRRUJCUUF3\nZ2dJQ0F3\n-----END "
        + type
        + "-----\n";
  }
}
