package dev.zrepl4j.rpc;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

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
        return ByteChannels.readByte(this);
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

  /**
   * {@link #patternStream} that is also a {@link ReadableByteChannel} (as zfs send's pipe is): the
   * RPC library then moves it through direct buffers.
   */
  /** Reads of a {@link #patternChannel} through a heap array (a fast path not taken). */
  static final AtomicLong HEAP_READS_OF_CHANNELS = new AtomicLong();

  static InputStream patternChannel(long n, long failAt) {
    return new PatternChannel(n, failAt);
  }

  private static final class PatternChannel extends InputStream implements ReadableByteChannel {
    private final InputStream heap;
    private final long n;
    private final long failAt;
    private long i;

    PatternChannel(long n, long failAt) {
      this.heap = patternStream(n, failAt);
      this.n = n;
      this.failAt = failAt;
    }

    @Override
    public int read() throws IOException {
      return ByteChannels.readByte(this);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      HEAP_READS_OF_CHANNELS.incrementAndGet();
      return read(ByteBuffer.wrap(b, off, len), true);
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
      return read(dst, dst.hasArray());
    }

    private int read(ByteBuffer dst, boolean heap) throws IOException {
      if (heap) {
        HEAP_READS_OF_CHANNELS.incrementAndGet();
      }
      if (i == failAt) {
        throw new IOException("zfs send: boom at " + failAt);
      }
      if (i >= n) {
        return -1;
      }
      // irregular chunk sizes, as a pipe returns them
      int k = (int) Math.min(dst.remaining(), Math.min(Math.min(n, failAt) - i, 1 + i % 700_001));
      for (int j = 0; j < k; j++) {
        dst.put(pattern(i++));
      }
      return k;
    }

    @Override
    public boolean isOpen() {
      return true;
    }

    @Override
    public void close() throws IOException {
      heap.close();
    }
  }

  /** Checks the pattern read as a channel into a direct buffer (the stream must be a channel). */
  static long checkPatternDirect(InputStream in) throws IOException {
    if (!(in instanceof ReadableByteChannel ch)) {
      throw new AssertionError(in.getClass() + " is not a channel");
    }
    var buf = ByteBuffer.allocateDirect(1 << 20);
    long i = 0;
    while (ch.read(buf.clear()) >= 0) {
      buf.flip();
      while (buf.hasRemaining()) {
        if (buf.get() != pattern(i)) {
          throw new AssertionError("byte " + i + " differs");
        }
        i++;
      }
    }
    return i;
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

  public InputStream bytesChannel(Req r) {
    return patternChannel(r.n(), Long.MAX_VALUE);
  }

  public InputStream failingChannel(Req r) {
    return patternChannel(Long.MAX_VALUE, r.n());
  }

  /** What the last failed {@code uploadDirect} read threw. */
  static final AtomicReference<@Nullable IOException> UPLOAD_FAILURE = new AtomicReference<>();

  public Resp uploadDirect(Req r, InputStream body) throws IOException {
    try {
      return new Resp("got " + r.name(), "", checkPatternDirect(body));
    } catch (IOException e) {
      UPLOAD_FAILURE.set(e);
      throw e;
    }
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
