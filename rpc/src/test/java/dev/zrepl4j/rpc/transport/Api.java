package dev.zrepl4j.rpc.transport;

import dev.zrepl4j.rpc.Caller;
import java.io.IOException;
import java.io.InputStream;

/** Endpoints for transport tests, registered as "t". */
public final class Api {
  public record Req(String name, long n) {}

  public record Resp(String text, String identity, long count) {}

  public Resp who(Req r, Caller c) {
    return new Resp("hi " + r.name(), c.identity(), r.n());
  }

  public InputStream bytes(Req r) {
    return pattern(r.n());
  }

  public Resp upload(Req r, InputStream body) throws IOException {
    return new Resp("got " + r.name(), "", check(body));
  }

  static byte at(long i) {
    return (byte) (i * 31 + (i >>> 8));
  }

  static InputStream pattern(long n) {
    return new InputStream() {
      long i;

      @Override
      public int read() {
        return i < n ? at(i++) & 0xFF : -1;
      }

      @Override
      public int read(byte[] b, int off, int len) {
        if (i >= n) {
          return -1;
        }
        int k = (int) Math.min(len, n - i);
        for (int j = 0; j < k; j++) {
          b[off + j] = at(i++);
        }
        return k;
      }
    };
  }

  /** Reads to the end, checking the pattern; returns the count. */
  static long check(InputStream in) throws IOException {
    byte[] b = new byte[65536];
    long i = 0;
    int n;
    while ((n = in.read(b, 0, b.length)) >= 0) {
      for (int j = 0; j < n; j++) {
        if (b[j] != at(i)) {
          throw new AssertionError("byte " + i + " differs");
        }
        i++;
      }
    }
    return i;
  }

  /** Runs a command, failing with its output if it exits non-zero. */
  static String run(java.nio.file.Path dir, String... cmd)
      throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
    String out =
        new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new AssertionError(String.join(" ", cmd) + " failed: " + out);
    }
    return out;
  }
}
