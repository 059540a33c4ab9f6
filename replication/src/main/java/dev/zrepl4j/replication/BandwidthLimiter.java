package dev.zrepl4j.replication;

import dev.zrepl4j.rpc.ByteChannels;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.time.Duration;
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

    Limited(InputStream in, TokenBucket bucket) {
      this.in = in;
      this.bucket = bucket;
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
      in.close();
    }
  }
}
