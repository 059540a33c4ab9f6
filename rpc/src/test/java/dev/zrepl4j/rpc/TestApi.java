package dev.zrepl4j.rpc;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;

/** Endpoints for round-trip tests. */
public final class TestApi {
  public record Req(String name, int n) {}

  public record Resp(String text, String identity, long count) {}

  /** The client's view of the same endpoints (registered under prefix "t"). */
  public interface Client {
    Resp hello(Req r) throws IOException;

    List<Req> list(Req r) throws IOException;

    InputStream bytes(Req r) throws IOException;

    Resp upload(Req r, InputStream body) throws IOException;

    void nothing(Req r) throws IOException;

    @RpcName("hello")
    Resp greet(Req r) throws IOException;
  }

  static byte pattern(long i) {
    return (byte) (i * 31 + (i >>> 8));
  }

  static InputStream patternStream(long n, long failAt) {
    return new InputStream() {
      long i;

      @Override
      public int read() throws IOException {
        byte[] b = new byte[1];
        return read(b, 0, 1) < 0 ? -1 : b[0] & 0xFF;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        if (i == failAt) {
          throw new IOException("zfs send: boom at " + failAt);
        }
        if (i >= n) {
          return -1;
        }
        int k = (int) Math.min(len, Math.min(n, failAt) - i);
        for (int j = 0; j < k; j++) {
          b[off + j] = pattern(i++);
        }
        return k;
      }
    };
  }

  static long checkPattern(InputStream in) throws IOException {
    byte[] b = new byte[65536];
    long i = 0;
    int n;
    while ((n = in.read(b, 0, b.length)) >= 0) {
      for (int j = 0; j < n; j++) {
        if (b[j] != pattern(i)) {
          throw new AssertionError("byte " + i + " differs");
        }
        i++;
      }
    }
    return i;
  }

  public Resp hello(Req r, Caller c) {
    return new Resp("hi " + r.name(), c.identity(), r.n());
  }

  public List<Req> list(Req r) {
    var out = new ArrayList<Req>();
    for (int i = 0; i < r.n(); i++) {
      out.add(new Req(r.name() + i, i));
    }
    return out;
  }

  public InputStream bytes(Req r) {
    return patternStream(r.n(), Long.MAX_VALUE);
  }

  public InputStream failing(Req r) {
    return patternStream(Long.MAX_VALUE, r.n());
  }

  public Resp upload(Req r, InputStream body) throws IOException {
    return new Resp("got " + r.name(), "", checkPattern(body));
  }

  public Resp uploadOnly(InputStream body) throws IOException {
    return new Resp("got", "", checkPattern(body));
  }

  public Resp uploadFailing(Req r, InputStream body) throws IOException {
    body.readNBytes(r.n());
    throw new IOException("zfs recv: cannot receive: destination modified");
  }

  public void write(Req r, OutputStream out) throws IOException {
    try (InputStream in = patternStream(r.n(), Long.MAX_VALUE)) {
      in.transferTo(out);
    }
  }

  public void nothing(Req r) {}

  public Resp invalid(Req r) {
    throw new IllegalArgumentException("bad name " + r.name());
  }

  public Resp missing(Req r) throws RemoteException {
    throw new RemoteException(ErrorCode.NOT_FOUND, "no such dataset " + r.name());
  }
}
