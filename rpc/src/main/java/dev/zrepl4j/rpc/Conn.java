package dev.zrepl4j.rpc;

import dev.zrepl4j.rpc.frame.FrameReader;
import dev.zrepl4j.rpc.frame.FrameWriter;
import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.ReadableByteChannel;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One end of an RPC connection: transport, frame reader and writer, protocol state and a monitor
 * that sends keep-alives and notices a silent peer.
 *
 * <p>Implementation notes: the monitor is one virtual thread per connection that wakes up a few
 * times per keep-alive interval. Silence is measured only while this side is blocked in a read that
 * the current {@link Watch} says must make progress, so a slow local handler never counts against
 * the peer. When the peer is silent too long the monitor closes the transport, which unblocks the
 * reader; {@link #fail(IOException)} then turns the resulting error into a {@link
 * SocketTimeoutException}.
 *
 * <p>The timings start as this side's {@link RpcOptions} and are adapted to the peer's hello
 * ({@link #adoptPeerTimings}): keep-alives go out often enough for the peer's read timeout, the
 * read timeout waits long enough for the peer's keep-alive interval, and an idle client pings often
 * enough for the server's idle timeout. Thread-safe.
 */
final class Conn implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Conn.class);

  /** What a blocked read of this side is waiting for. */
  enum Watch {
    /** Nothing is expected: no timeout (a seed peer computing a response). */
    NONE,
    /** Between requests on a server: the idle timeout applies. */
    IDLE,
    /** Inside a message or waiting for a v1 peer's response: the read timeout applies. */
    READ
  }

  final Transport transport;
  final FrameReader reader;
  final FrameWriter writer;
  final RpcOptions options;
  private final Watched in;
  private final WatchedWrites out;
  private final Thread monitor;

  private volatile boolean v1;
  // the direct data path was negotiated in the hello (docs/DIRECT-PATH.md)
  private volatile boolean directData;
  // a server's data connection bound to this connection's next call (zrepl4j.Direct)
  private volatile RpcServer.@Nullable DataConnection pendingDirect;
  private volatile boolean callActive;
  private volatile Watch watch = Watch.NONE;
  private volatile boolean closed;
  private volatile String timedOut = "";
  private volatile Duration keepAlive;
  private volatile Duration readTimeout;
  private volatile Duration idleTaskEvery;
  private final Runnable idleTask;

  Conn(Transport transport, RpcOptions options, String role, Runnable idleTask) {
    this.transport = transport;
    this.options = options;
    this.idleTask = idleTask;
    this.keepAlive = options.keepAlive();
    this.readTimeout = options.readTimeout();
    this.idleTaskEvery = options.keepAlive();
    var channel = transport.channel();
    this.in = new Watched(transport.input(), channel);
    this.reader =
        new FrameReader(
            in, channel == null ? null : in::read, Math.min(options.bufferSize(), 256 * 1024));
    this.out = new WatchedWrites(channel);
    this.writer =
        new FrameWriter(
            out.stream(transport.output()), channel == null ? null : out, options.bufferSize());
    this.monitor = Thread.ofVirtual().name("rpc-monitor-" + role).unstarted(this::monitor);
  }

  void start() {
    monitor.start();
  }

  boolean v1() {
    return v1;
  }

  boolean directData() {
    return directData;
  }

  /** The direct data path was negotiated (after a hello that offered it both ways). */
  void enableDirectData() {
    directData = true;
  }

  /** Binds a data connection to this connection's next call (closing one bound before). */
  void bindDirect(RpcServer.DataConnection data) {
    var old = pendingDirect;
    pendingDirect = data;
    if (old != null) {
      old.close();
    }
  }

  /** The data connection bound to this call, now unbound; or null. */
  RpcServer.@Nullable DataConnection takeDirect() {
    var d = pendingDirect;
    pendingDirect = null;
    return d;
  }

  /**
   * Stops watching this connection without closing its transport: it has become a data connection
   * (its bytes go to a child process now), owned by whoever took it.
   */
  void detach() {
    closed = true;
    monitor.interrupt();
  }

  /** Switches this connection to protocol version 1 (after a successful hello). */
  void enableV1() {
    v1 = true;
    reader.allowKeepAlives();
    writer.allowKeepAlives();
  }

  /** Smallest keep-alive interval this side adopts for a peer, however short its timeout. */
  static final Duration MIN_KEEP_ALIVE = Duration.ofMillis(50);

  /**
   * Adapts this side's timings to the peer's hello, never weakening its own: keep-alives at most a
   * third of the peer's read timeout apart; a read timeout (if enabled) of at least twice the
   * peer's keep-alive interval; idle pings (a client's) at most a third of the server's idle
   * timeout apart. A zero in the hello means unknown and changes nothing.
   */
  void adoptPeerTimings(Hello peer) {
    Long peerReadTimeout = peer.readTimeoutMillis();
    if (peerReadTimeout != null && peerReadTimeout > 0) {
      Duration third = Duration.ofMillis(peerReadTimeout).dividedBy(3);
      keepAlive = max(MIN_KEEP_ALIVE, min(options.keepAlive(), third));
    }
    if (peer.keepAliveMillis() > 0 && !options.readTimeout().isZero()) {
      readTimeout =
          max(options.readTimeout(), Duration.ofMillis(peer.keepAliveMillis()).multipliedBy(2));
    }
    if (peer.idleTimeoutMillis() > 0) {
      Duration third = Duration.ofMillis(peer.idleTimeoutMillis()).dividedBy(3);
      idleTaskEvery = max(MIN_KEEP_ALIVE, min(options.keepAlive(), third));
    }
    log.debug(
        "{}: timings for {}: keep-alive {}, read timeout {}, idle ping {}",
        transport.remote(),
        peer.software(),
        keepAlive,
        readTimeout,
        idleTaskEvery);
    LockSupport.unpark(monitor);
  }

  /** The keep-alive interval in use (the peer's hello may have shortened it). */
  Duration keepAlive() {
    return keepAlive;
  }

  /** The read timeout in use (the peer's hello may have lengthened it). */
  Duration readTimeout() {
    return readTimeout;
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  private static Duration max(Duration a, Duration b) {
    return a.compareTo(b) >= 0 ? a : b;
  }

  void callActive(boolean active) {
    callActive = active;
  }

  void watch(Watch w) {
    watch = w;
  }

  boolean isOpen() {
    return !closed;
  }

  /** Converts an I/O error caused by the monitor's close into a timeout naming the silence. */
  IOException fail(IOException e) {
    String t = timedOut;
    if (!t.isEmpty()) {
      var te = new SocketTimeoutException(t);
      te.initCause(e);
      return te;
    }
    return e;
  }

  /** Sends an RST frame (best effort) and closes. */
  void hangUp() {
    if (closed) {
      return;
    }
    try {
      writer.rst();
    } catch (IOException | RuntimeException e) {
      log.debug("{}: RST not sent: {}", transport.remote(), e.toString());
    }
    close();
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    monitor.interrupt();
    var d = takeDirect();
    if (d != null) {
      d.close();
    }
    try {
      transport.close();
    } catch (IOException e) {
      log.debug("{}: close: {}", transport.remote(), e.toString());
    }
  }

  private void monitor() {
    long lastIdleTask = System.nanoTime();
    while (!closed) {
      long keepAlive = this.keepAlive.toNanos();
      long tick =
          Math.max(
              Duration.ofMillis(20).toNanos(), Math.min(keepAlive, idleTaskEvery.toNanos()) / 4);
      // parked, not sleeping: adoptPeerTimings wakes it to apply shorter timings at once
      LockSupport.parkNanos(this, tick);
      if (closed || Thread.currentThread().isInterrupted()) {
        return;
      }
      long now = System.nanoTime();
      try {
        if (v1 && callActive) {
          writer.keepAliveIfIdle(keepAlive);
        }
      } catch (IOException e) {
        log.debug("{}: keep-alive failed: {}", transport.remote(), e.toString());
      }
      if (!callActive && now - lastIdleTask >= idleTaskEvery.toNanos()) {
        lastIdleTask = now;
        idleTask.run();
      }
      Watch w = watch;
      long limit =
          switch (w) {
            case NONE -> 0;
            case IDLE -> options.idleTimeout().toNanos();
            case READ -> readTimeout.toNanos();
          };
      // a write that the peer does not take for longer than the read timeout: a peer (or a link)
      // that stalled while this side sends (TCP would block it for many minutes)
      long writeLimit = options.readTimeout().toNanos();
      long writing = out.blockedSince;
      if (writeLimit > 0 && writing != 0 && now - writing > writeLimit) {
        timedOut =
            "peer accepted nothing for more than "
                + Duration.ofNanos(writeLimit).toMillis()
                + " ms";
        log.info("{}: {}; closing", transport.remote(), timedOut);
        close();
        return;
      }
      long blocked = in.blockedSince;
      if (limit > 0 && blocked != 0) {
        long silent = now - Math.max(blocked, in.lastReadNanos);
        if (silent > limit) {
          timedOut =
              (w == Watch.IDLE
                      ? "connection idle for more than "
                      : "peer sent nothing for more than ")
                  + Duration.ofNanos(limit).toMillis()
                  + " ms";
          log.info("{}: {}; closing", transport.remote(), timedOut);
          close();
          return;
        }
      }
    }
  }

  /**
   * Records when a write blocks; writes go out in slices of at most {@link #SLICE} bytes, so that a
   * write that makes progress, however slowly, is never taken for a stalled one.
   */
  private static final class WatchedWrites implements GatheringByteChannel {
    private static final int SLICE = 64 * 1024;
    volatile long blockedSince;
    private final @Nullable GatheringByteChannel channel;

    WatchedWrites(@Nullable GatheringByteChannel channel) {
      this.channel = channel;
    }

    private GatheringByteChannel channel() {
      var ch = channel;
      if (ch == null) {
        throw new IllegalStateException("no channel");
      }
      return ch;
    }

    /** {@code out} with its writes watched. */
    OutputStream stream(OutputStream out) {
      return new FilterOutputStream(out) {
        @Override
        public void write(int b) throws IOException {
          blockedSince = System.nanoTime();
          try {
            out.write(b);
          } finally {
            blockedSince = 0;
          }
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
          Objects.checkFromIndexSize(off, len, b.length);
          try {
            for (int done = 0; done < len; ) {
              int n = Math.min(SLICE, len - done);
              blockedSince = System.nanoTime();
              out.write(b, off + done, n);
              done += n;
            }
          } finally {
            blockedSince = 0;
          }
        }

        @Override
        public void flush() throws IOException {
          blockedSince = System.nanoTime();
          try {
            out.flush();
          } finally {
            blockedSince = 0;
          }
        }
      };
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
      int limit = src.limit();
      int total = 0;
      try {
        while (src.hasRemaining()) {
          src.limit(Math.min(limit, src.position() + SLICE));
          blockedSince = System.nanoTime();
          total += channel().write(src);
          src.limit(limit);
        }
      } finally {
        src.limit(limit);
        blockedSince = 0;
      }
      return total;
    }

    /**
     * Writes at most {@link #SLICE} bytes of {@code srcs} (the buffer where the slice ends is
     * shortened for the call): a blocking socket's write returns only when all it was given is
     * sent, and a 4 MiB frame on a slow link must not look like a stalled one. Callers loop.
     */
    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
      long room = SLICE;
      int end = offset;
      int cut = -1;
      int cutLimit = 0;
      while (end < offset + length) {
        var b = srcs[end++];
        if (b.remaining() > room) {
          cut = end - 1;
          cutLimit = b.limit();
          b.limit(b.position() + (int) room);
          break;
        }
        room -= b.remaining();
      }
      blockedSince = System.nanoTime();
      try {
        return channel().write(srcs, offset, end - offset);
      } finally {
        if (cut >= 0) {
          srcs[cut].limit(cutLimit);
        }
        blockedSince = 0;
      }
    }

    @Override
    public long write(ByteBuffer[] srcs) throws IOException {
      return write(srcs, 0, srcs.length);
    }

    @Override
    public boolean isOpen() {
      return channel().isOpen();
    }

    @Override
    public void close() throws IOException {
      channel().close();
    }
  }

  /** Records when reads block and when bytes arrive. */
  private static final class Watched extends FilterInputStream {
    volatile long blockedSince;
    volatile long lastReadNanos = System.nanoTime();

    private final @Nullable ReadableByteChannel channel;

    Watched(InputStream in, @Nullable ReadableByteChannel channel) {
      super(in);
      this.channel = channel;
    }

    /** Reads from the channel (the same bytes as the stream) into a buffer. */
    int read(ByteBuffer dst) throws IOException {
      var ch = channel;
      if (ch == null) {
        throw new IllegalStateException("no channel");
      }
      blockedSince = System.nanoTime();
      try {
        int n = ch.read(dst);
        if (n > 0) {
          lastReadNanos = System.nanoTime();
        }
        return n;
      } finally {
        blockedSince = 0;
      }
    }

    @Override
    public int read() throws IOException {
      return ByteChannels.readByte(this);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      blockedSince = System.nanoTime();
      try {
        int n = in.read(b, off, len);
        if (n > 0) {
          lastReadNanos = System.nanoTime();
        }
        return n;
      } finally {
        blockedSince = 0;
      }
    }
  }
}
