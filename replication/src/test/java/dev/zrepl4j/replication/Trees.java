package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;

/** Test support: writes random files and compares two directory trees byte for byte. */
public final class Trees {
  private Trees() {}

  /** Writes {@code bytes} pseudo-random bytes (seeded) to {@code file}. */
  public static void write(Path file, long seed, int bytes) throws IOException {
    Files.createDirectories(file.getParent());
    var r = new Random(seed);
    var buf = new byte[64 * 1024];
    try (OutputStream out = Files.newOutputStream(file)) {
      for (int left = bytes; left > 0; left -= buf.length) {
        r.nextBytes(buf);
        out.write(buf, 0, Math.min(left, buf.length));
      }
    }
  }

  /** Asserts that both trees hold the same files with the same bytes (and at least one file). */
  public static void assertSameFiles(Path expected, Path actual) throws IOException {
    var a = files(expected);
    var b = files(actual);
    assertThat(a).isNotEmpty();
    assertThat(b.keySet()).containsExactlyElementsOf(a.keySet());
    for (var rel : a.keySet()) {
      assertThat(Files.mismatch(a.get(rel), b.get(rel)))
          .as("first differing byte of %s", rel)
          .isEqualTo(-1L);
    }
  }

  private static TreeMap<String, Path> files(Path root) throws IOException {
    var m = new TreeMap<String, Path>();
    try (Stream<Path> s = Files.walk(root)) {
      for (var p : (Iterable<Path>) s::iterator) {
        if (Files.isRegularFile(p)) {
          m.put(root.relativize(p).toString(), p);
        }
      }
    }
    return m;
  }
}
