package dev.zrepl4j.rpc;

import java.io.IOException;
import java.io.InputStream;
import java.net.ProtocolException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * The request body of a call made on the direct data path (docs/DIRECT-PATH.md), as the endpoint
 * gets it: the bytes come on a data connection of their own, bound to the call, and the client's
 * verdict on them (its writer's exit status: the role of the framed stream's trailer) comes on the
 * call's own connection once they are all sent.
 *
 * <p>An endpoint that knows the path hands {@link #descriptor()} to a child ({@code zfs recv}
 * reading the socket itself), reads the head with {@link #peek} (nothing consumed), and reports
 * success only when its child succeeded <em>and</em> {@link #awaitWriterEnd()} returned. Any other
 * endpoint just reads it: the bytes through the JVM, and the end of the stream only once the
 * writer's verdict said it is complete (a failed writer's error is thrown instead of -1), as with a
 * framed body. Closing closes the data connection.
 */
public final class DirectStream extends InputStream implements ReadableByteChannel {
  /** A stream that wraps another and can say whether a {@link DirectStream} is underneath. */
  public interface Carrier {
    /** The direct stream this one reads, or null. */
    @Nullable DirectStream directStream();
  }

  private static final java.util.concurrent.atomic.AtomicLong LOCAL_PAIRS =
      new java.util.concurrent.atomic.AtomicLong();

  /**
   * Whether {@link #pace} can cap a data connection's rate here: the socket helper is at hand and
   * the kernel paces TCP itself (Linux 4.13 and later; before that only with the {@code fq} qdisc,
   * which this cannot know).
   */
  public static boolean canPace() {
    return CAN_PACE;
  }

  // the kernel does not change under a running JVM: read once, not at every limited step
  private static final boolean CAN_PACE = Sockets.get() != null && kernelPaces();

  private static boolean kernelPaces() {
    var m =
        java.util.regex.Pattern.compile("^(\\d+)\\.(\\d+)")
            .matcher(System.getProperty("os.version", ""));
    if (!m.find()) {
      return false;
    }
    int major = Integer.parseInt(m.group(1));
    int minor = Integer.parseInt(m.group(2));
    return major > 4 || (major == 4 && minor >= 13);
  }

  /**
   * Caps the sending rate of the data connection {@code fd} at {@code bytesPerSecond}, by the
   * kernel (a job's {@code bandwidth_limit} on the direct data path).
   *
   * @throws IOException if the kernel refuses it
   */
  public static void pace(int fd, long bytesPerSecond) throws IOException {
    var s = Sockets.get();
    if (s == null || !s.maxPacingRate(fd, Math.max(1, bytesPerSecond))) {
      throw new IOException("the kernel does not pace the data connection (SO_MAX_PACING_RATE)");
    }
  }

  /**
   * The bytes the data connection {@code fd} may send at once, before its pacing holds it (its
   * congestion window); -1 if unknown.
   */
  public static long sendWindow(int fd) {
    var s = Sockets.get();
    return s == null ? -1 : s.sendWindow(fd);
  }

  /** How many in-process direct streams ({@link #local}) this process made: for tests. */
  public static long localPairs() {
    return LOCAL_PAIRS.get();
  }

  /**
   * The direct data path within this process (a local job): a loopback TCP connection, one end
   * written by {@code source}'s own writer ({@code zfs send} with it as stdout) on a thread of its
   * own, the other end the returned stream's (for {@code zfs recv} as stdin). A socket rather than
   * a pipe: the kernel counts its bytes ({@code TCP_INFO}; on zfs-fuse the stream is written by the
   * zfs-fuse daemon, not by the {@code zfs send} process, so nothing else counts them). The
   * writer's verdict is the stream's ({@link #awaitWriterEnd}); its progress is told to {@code
   * source} four times a second. Null where the path cannot be taken here (the source says no, no
   * socket descriptors): the caller reads {@code source} then.
   */
  public static @Nullable DirectStream local(DirectSource source, Duration headTimeout)
      throws IOException {
    var s = Sockets.get();
    if (s == null || !source.direct()) {
      return null;
    }
    SocketChannel out;
    SocketChannel in;
    try (var server = java.nio.channels.ServerSocketChannel.open()) {
      server.bind(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 1);
      out = SocketChannel.open(server.getLocalAddress());
      try {
        in = server.accept();
      } catch (IOException | RuntimeException e) {
        out.close();
        throw e;
      }
    }
    try {
      int fdOut = s.descriptorOf(out);
      int fdIn = s.descriptorOf(in);
      if (fdOut < 0 || fdIn < 0) {
        throw new IOException("the loopback connection's descriptors were not found");
      }
      s.makeBlocking(fdOut);
      s.makeBlocking(fdIn);
      var verdict = new Verdict();
      Thread.ofVirtual()
          .name("direct-local-writer")
          .start(() -> write(source, out, fdOut, s, verdict));
      LOCAL_PAIRS.incrementAndGet();
      return new DirectStream(in, fdIn, 0, verdict, s, headTimeout);
    } catch (IOException | RuntimeException e) {
      out.close();
      in.close();
      throw e;
    }
  }

  /** Runs the writer of a local pair into {@code out}, telling its progress; sets the verdict. */
  private static void write(
      DirectSource source, SocketChannel out, int fd, Sockets s, Verdict verdict) {
    var ended = new java.util.concurrent.atomic.AtomicBoolean();
    // the connecting side's count holds its SYN and, once sent, its FIN
    java.util.function.LongSupplier acked =
        () -> Math.max(0, s.bytesAcked(fd) - 1 - (ended.get() ? 1 : 0));
    var progress =
        Thread.ofVirtual()
            .start(
                () -> {
                  long last = -1;
                  while (!Thread.currentThread().isInterrupted()) {
                    try {
                      Thread.sleep(250); // the kernel's count, four times a second
                    } catch (InterruptedException e) {
                      return;
                    }
                    long n = acked.getAsLong();
                    if (n != last) {
                      last = n;
                      source.progress(n);
                    }
                  }
                });
    try {
      source.writeInto(fd, acked);
      s.shutdownOutput(fd);
      ended.set(true);
      verdict.complete(null);
    } catch (IOException | RuntimeException e) {
      s.shutdownBoth(fd); // the reader's child sees the stream end early
      verdict.complete(e instanceof IOException io ? io : new IOException(e));
    } finally {
      progress.interrupt();
      try {
        out.close();
      } catch (IOException e) {
        // nothing more to tell
      }
    }
  }

  /**
   * The writer's verdict of a local pair, read as a stream: -1 once it succeeded, else its error.
   */
  private static final class Verdict extends InputStream {
    private final java.util.concurrent.CompletableFuture<@Nullable IOException> done =
        new java.util.concurrent.CompletableFuture<>();

    void complete(@Nullable IOException failure) {
      done.complete(failure);
    }

    @Override
    public int read() throws IOException {
      IOException failure;
      try {
        failure = done.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("waiting for the writer's verdict");
      } catch (java.util.concurrent.ExecutionException e) {
        throw new IOException(e.getCause());
      }
      if (failure != null) {
        throw new IOException("the stream's writer failed: " + failure.getMessage(), failure);
      }
      return -1;
    }
  }

  /** {@code in} itself if it is a direct stream, the one a {@link Carrier} reads, or null. */
  public static @Nullable DirectStream of(InputStream in) {
    return in instanceof DirectStream d ? d : in instanceof Carrier c ? c.directStream() : null;
  }

  private final SocketChannel data;
  private final int fd;
  private final long prologue;
  private final InputStream verdict;
  private final Sockets sockets;
  private final Duration headTimeout;
  private volatile boolean ended;
  // a client's response: closing this closes the call's own response stream too
  private boolean closeVerdict;
  private @Nullable IOException writerFailure;

  DirectStream(
      SocketChannel data,
      int fd,
      long prologue,
      InputStream verdict,
      Sockets sockets,
      Duration headTimeout) {
    this.data = data;
    this.fd = fd;
    this.prologue = prologue;
    this.verdict = verdict;
    this.sockets = sockets;
    this.headTimeout = headTimeout;
  }

  /** Closing this stream closes the verdict's stream too (a client's response). */
  DirectStream closingVerdict() {
    closeVerdict = true;
    return this;
  }

  /**
   * The data connection's socket, blocking, for a child to read (the JVM must not read it then).
   */
  public int descriptor() {
    return fd;
  }

  /**
   * The stream's first {@code n} bytes (fewer if it is shorter), left in the socket for whoever
   * reads it.
   */
  public byte[] peek(int n) throws IOException {
    return sockets.peek(fd, n, headTimeout);
  }

  /** The bytes received on the data connection so far, as the kernel counts them (-1: unknown). */
  public long bytesReceived() {
    long n = sockets.bytesReceived(fd);
    // once the writer's verdict said the stream ended, its FIN (sent before the verdict) is in the
    // kernel's count as one byte
    return n < 0 ? -1 : Math.max(0, n - prologue - (ended ? 1 : 0));
  }

  /**
   * Waits for the client's verdict on the bytes: returns once it said they are complete (its writer
   * exited successfully after the last byte), throws its error otherwise (a {@link
   * RemoteException}), or the connection's. The same answer on every call. Thread-safe.
   */
  public synchronized void awaitWriterEnd() throws IOException {
    if (ended) {
      return;
    }
    var f = writerFailure;
    if (f != null) {
      throw f;
    }
    try {
      int b = verdict.read();
      if (b != -1) {
        throw new ProtocolException("bytes on the call's own connection of a direct call");
      }
      ended = true;
    } catch (IOException e) {
      writerFailure = e;
      throw e;
    }
  }

  /** Ends the data connection both ways: a child reading it sees the end at once. */
  public void abort() {
    sockets.shutdownBoth(fd);
  }

  @Override
  public int read() throws IOException {
    return ByteChannels.readByte(this);
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    return read(ByteBuffer.wrap(b, off, len));
  }

  @Override
  public int read(ByteBuffer dst) throws IOException {
    if (!dst.hasRemaining()) {
      return 0;
    }
    int n = data.read(dst);
    if (n < 0) {
      awaitWriterEnd();
    }
    return n;
  }

  @Override
  public boolean isOpen() {
    return data.isOpen();
  }

  @Override
  public void close() throws IOException {
    try {
      data.close();
    } finally {
      if (closeVerdict) {
        verdict.close(); // a client's: gives its connection back
      }
    }
  }
}
