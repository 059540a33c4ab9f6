package dev.zrepl4j.zfs;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/** Keeps the last {@code limit} bytes written to it (a ring buffer). Thread-safe. */
final class BoundedTail {
  private final byte[] ring;
  private long total;

  BoundedTail(int limit) {
    this.ring = new byte[limit];
  }

  synchronized void write(byte[] b, int off, int len) {
    for (int i = 0; i < len; i++) {
      ring[(int) (total++ % ring.length)] = b[off + i];
    }
  }

  /** Reads {@code in} to its end, keeping the tail; read errors end the drain silently. */
  void drain(InputStream in) {
    var buf = new byte[8192];
    try (in) {
      int n;
      while ((n = in.read(buf)) != -1) {
        write(buf, 0, n);
      }
    } catch (IOException e) {
      // The stream was closed under us (process killed/closed): what we have is the tail.
    }
  }

  synchronized long totalBytes() {
    return total;
  }

  /** The kept bytes as UTF-8 (malformed sequences replaced), prefixed by a marker if cut. */
  synchronized String tail() {
    if (total <= ring.length) {
      return new String(ring, 0, (int) total, StandardCharsets.UTF_8);
    }
    int start = (int) (total % ring.length);
    var out = new byte[ring.length];
    System.arraycopy(ring, start, out, 0, ring.length - start);
    System.arraycopy(ring, 0, out, ring.length - start, start);
    return "[... "
        + (total - ring.length)
        + " bytes cut ...]"
        + new String(out, StandardCharsets.UTF_8);
  }
}
