package dev.zrepl4j.replication;

import dev.zrepl4j.rpc.ByteChannels;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.time.Duration;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * zrepl's {@code send.bandwidth_limit} / {@code recv.bandwidth_limit} of one job: every stream it
 * {@linkplain #limit limits} draws from one token bucket, so that all concurrent transfers of the
 * job share the limit (zrepl: "the scope is the job level"). Only the payload counts, the ZFS
 * stream's bytes, not the RPC framing. Thread-safe.
 *
 * <p>Implementation notes: a limited stream reads first and then waits for the bytes it read (as
 * zrepl's juju/ratelimit reader does), sleeping on its own thread with no lock held, so the other
 * transfers of the job and every control call go on meanwhile. It resumes its place in the bucket
 * at each read ({@link TokenBucket#take(long, long)}), so that the time it spends between reads
 * (writing the chunk, being scheduled after its sleep) is not lost to the rate. Each read asks for
 * at most {@link #chunk} bytes, a twentieth of a second's worth (at least 1 B), so that a transfer
 * never sits on its bytes for long: its peer's read timeout and keep-alives see a steady flow. The
 * stream is a {@link ReadableByteChannel} like the one it wraps, reading into the caller's buffer
 * (direct or not) with no copy of its own.
 *
 * <p>On the direct data path (docs/DIRECT-PATH.md) the JVM does not read the stream: a sender's
 * data connection is {@linkplain #pace paced} by the kernel instead ({@code SO_MAX_PACING_RATE}).
 * The limit is shared there too: each paced connection gets the rate divided by the job's limited
 * streams at that moment (relayed and paced, re-divided as they come and go), and the bytes it
 * sends are drawn from the same bucket, so that relayed streams beside it wait for them. The bytes
 * a connection may send before its pacing holds it (its congestion window) are paid from the bucket
 * before its sender starts.
 */
public final class BandwidthLimiter {
  private static final BandwidthLimiter NONE = new BandwidthLimiter(null, n -> {});
  private static final int MIN_CHUNK = 1;

  /** Sleeps for a number of nanoseconds. */
  @FunctionalInterface
  interface Sleeper {
    void sleep(long nanos) throws InterruptedException;
  }

  private final @Nullable TokenBucket bucket;
  private final Sleeper sleeper;
  private final int chunk;
  // the job's limited streams now (relayed and paced), and the paced connections among them
  private int streams; // guarded by this
  private final java.util.Set<Paced> paced = new java.util.LinkedHashSet<>(); // guarded by this

  BandwidthLimiter(@Nullable TokenBucket bucket, Sleeper sleeper) {
    this.bucket = bucket;
    this.sleeper = sleeper;
    this.chunk =
        bucket == null
            ? Integer.MAX_VALUE
            : (int) Math.clamp(bucket.rate() / 20, MIN_CHUNK, 1 << 30);
  }

  /** No limit: {@link #limit} returns the stream it is given. */
  public static BandwidthLimiter none() {
    return NONE;
  }

  /**
   * A limit of {@code maxBytesPerSecond} with a token bucket of {@code bucketCapacity} bytes,
   * starting full.
   *
   * @throws IllegalArgumentException if either is not positive
   */
  public static BandwidthLimiter of(long maxBytesPerSecond, long bucketCapacity) {
    return new BandwidthLimiter(
        new TokenBucket(maxBytesPerSecond, bucketCapacity, System::nanoTime),
        nanos -> Thread.sleep(Duration.ofNanos(nanos)));
  }

  /** Whether there is a limit. */
  public boolean limited() {
    return bucket != null;
  }

  /** The most bytes one read of a limited stream asks for. */
  int chunk() {
    return chunk;
  }

  /**
   * {@code in}, limited: its reads wait until the job's bucket has the bytes they returned. Closing
   * it closes {@code in}. Unlimited, {@code in} itself. The stream is not thread-safe (as streams
   * are not); the bucket behind it is shared.
   */
  public InputStream limit(InputStream in) {
    var b = bucket;
    return b == null ? in : new Limited(in, b);
  }

  /**
   * Paces the direct data path's connection {@code fd} at this job's share of the limit, once its
   * congestion window is paid from the bucket (this waits for that); closing the lease ends the
   * pacing's share. Its bytes, read through {@link Paced#counting}, are drawn from the bucket.
   *
   * @throws IllegalStateException without a limit
   * @throws IOException if the kernel does not pace it, or interrupted while paying
   */
  public Paced pace(int fd, LongSupplier sent) throws IOException {
    var b = bucket;
    if (b == null) {
      throw new IllegalStateException("no limit to pace at");
    }
    dev.zrepl4j.rpc.DirectStream.pace(fd, b.rate()); // fails here if the kernel cannot
    var p = new Paced(b, fd, sent);
    synchronized (this) {
      paced.add(p);
      streams++;
      reshare();
    }
    try {
      long window = dev.zrepl4j.rpc.DirectStream.sendWindow(fd);
      long before = Math.max(0, sent.getAsLong());
      long burst = window > 0 ? window : 64 * 1024;
      paid(b, burst, TokenBucket.NO_RESUME);
      p.paidUpTo = before + burst;
    } catch (IOException | RuntimeException e) {
      p.close();
      throw e;
    }
    return p;
  }

  /** Whether the kernel can pace a data connection here ({@link #pace}). */
  public static boolean canPace() {
    return dev.zrepl4j.rpc.DirectStream.canPace();
  }

  /** Divides the rate among the limited streams: each paced connection gets its share. */
  private void reshare() {
    var b = bucket;
    if (b == null || paced.isEmpty()) {
      return;
    }
    long share = Math.max(1, b.rate() / Math.max(1, streams));
    for (var p : paced) {
      p.apply(share);
    }
  }

  private synchronized void streamOpened() {
    streams++;
    reshare();
  }

  private synchronized void streamClosed() {
    streams--;
    reshare();
  }

  /** A paced data connection's lease: its bytes drawn from the bucket, its share while open. */
  public final class Paced implements AutoCloseable {
    private final TokenBucket bucket;
    private final int fd;
    private final LongSupplier sent;
    private long paidUpTo; // guarded by this
    private boolean closed; // guarded by BandwidthLimiter.this

    private Paced(TokenBucket bucket, int fd, LongSupplier sent) {
      this.bucket = bucket;
      this.fd = fd;
      this.sent = sent;
    }

    private void apply(long share) {
      try {
        dev.zrepl4j.rpc.DirectStream.pace(fd, share);
      } catch (IOException e) {
        // it took the first rate; a socket closed since keeps no bytes to pace
      }
    }

    /**
     * The connection's byte count as {@code sent} tells it; each read draws the bytes sent since
     * the last from the bucket (into debt: the kernel paced them already).
     */
    public LongSupplier counting() {
      return () -> {
        long n = sent.getAsLong();
        synchronized (this) {
          if (n > paidUpTo) {
            bucket.take(n - paidUpTo, TokenBucket.NO_RESUME);
            paidUpTo = n;
          }
        }
        return n;
      };
    }

    @Override
    public void close() {
      synchronized (BandwidthLimiter.this) {
        if (closed) {
          return;
        }
        closed = true;
        paced.remove(this);
        streams--;
        reshare();
      }
    }
  }

  @Override
  public String toString() {
    var b = bucket;
    return b == null ? "BandwidthLimiter[none]" : "BandwidthLimiter[" + b + "]";
  }

  /**
   * Waits, with no lock held, until the bucket has paid for {@code n} bytes just read.
   *
   * @param resumeAt the {@link TokenBucket.Taken#paidAt} of the stream's previous read
   * @return this one's
   */
  private long paid(TokenBucket b, long n, long resumeAt) throws InterruptedIOException {
    var taken = b.take(n, resumeAt);
    long wait = taken.waitNanos();
    if (wait <= 0) {
      return taken.paidAt();
    }
    try {
      sleeper.sleep(wait);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      var io = new InterruptedIOException("interrupted while waiting for the bandwidth limit");
      io.initCause(e);
      throw io;
    }
    return taken.paidAt();
  }

  /** A stream limited by the bucket. Not thread-safe. */
  private final class Limited extends InputStream implements ReadableByteChannel {
    private final InputStream in;
    private final TokenBucket bucket;
    private long resumeAt = TokenBucket.NO_RESUME;

    private boolean closed;

    Limited(InputStream in, TokenBucket bucket) {
      this.in = in;
      this.bucket = bucket;
      streamOpened();
    }

    @Override
    public int read() throws IOException {
      int b = in.read();
      if (b >= 0) {
        resumeAt = paid(bucket, 1, resumeAt);
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = in.read(b, off, Math.min(len, chunk));
      if (n > 0) {
        resumeAt = paid(bucket, n, resumeAt);
      }
      return n;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
      int limit = dst.limit();
      if (dst.remaining() > chunk) {
        dst.limit(dst.position() + chunk);
      }
      int n;
      try {
        n = ByteChannels.read(in, dst);
      } finally {
        dst.limit(limit);
      }
      if (n > 0) {
        resumeAt = paid(bucket, n, resumeAt);
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      long s = in.skip(Math.min(n, chunk));
      if (s > 0) {
        resumeAt = paid(bucket, s, resumeAt);
      }
      return s;
    }

    @Override
    public int available() throws IOException {
      return in.available();
    }

    @Override
    public boolean isOpen() {
      return !(in instanceof ReadableByteChannel ch) || ch.isOpen();
    }

    @Override
    public void close() throws IOException {
      if (!closed) {
        closed = true;
        streamClosed();
      }
      in.close();
    }
  }
}
