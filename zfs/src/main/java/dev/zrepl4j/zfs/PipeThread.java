package dev.zrepl4j.zfs;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * Moves the bulk data of a {@code zfs send} or {@code zfs recv} pipe on a platform thread, in
 * chunks of 1 MiB handed over through a small queue, so that the caller (a virtual thread) blocks
 * once per chunk instead of once per pipe buffer. Thread-safe: one side is the pipe thread, the
 * other the caller.
 *
 * <p>Why a platform thread: every read or write of a pipe from a virtual thread is a "compensated"
 * blocking call (the JDK wakes or starts another carrier thread for its duration), and a pipe moves
 * at most 64 KiB per call. On the 2-core benchmark machine that cost several context switches per
 * 64 KiB, and as much CPU as zfs-fuse itself spent on the stream (bench/run replication). A
 * platform thread blocks in the kernel only, as {@code zfs recv} reading the pipe of a shell's
 * {@code zfs send | zfs recv} does.
 */
final class PipeThread {
  static final int CHUNK = 1 << 20;
  private static final int DEPTH = 3;

  /** A filled buffer; {@code n == -1} marks the end of the stream, {@code failure} an error. */
  static final class Chunk {
    static final Chunk END = new Chunk(new byte[0], -1, null);

    final byte[] b;
    final int n;
    final @Nullable IOException failure;

    Chunk(byte[] b, int n, @Nullable IOException failure) {
      this.b = b;
      this.n = n;
      this.failure = failure;
    }
  }

  private final BlockingQueue<Chunk> filled = new ArrayBlockingQueue<>(DEPTH);
  private final BlockingQueue<byte[]> empty = new ArrayBlockingQueue<>(DEPTH + 2);
  private final Thread thread;
  private volatile @Nullable IOException writeFailure;

  private PipeThread(String name, @Nullable InputStream in, @Nullable OutputStream out) {
    Runnable body;
    if (in != null) {
      body = () -> readLoop(in);
    } else {
      var o = java.util.Objects.requireNonNull(out);
      body = () -> writeLoop(o);
    }
    this.thread = Thread.ofPlatform().daemon(true).name(name).unstarted(body);
  }

  /** Reads {@code in} to its end on a new thread; take the chunks with {@link #take()}. */
  static PipeThread reading(InputStream in, String name) {
    var t = new PipeThread(name, in, null);
    t.thread.start();
    return t;
  }

  /** Writes what is {@link #put put} to {@code out} on a new thread, and closes it at the end. */
  static PipeThread writing(OutputStream out, String name) {
    var t = new PipeThread(name, null, out);
    t.thread.start();
    return t;
  }

  /** An empty buffer of {@link #CHUNK} bytes (recycled where possible). */
  byte[] buffer() {
    byte[] b = empty.poll();
    return b != null ? b : new byte[CHUNK];
  }

  /** Returns a buffer for reuse. */
  void recycle(byte[] b) {
    if (b.length == CHUNK) {
      empty.offer(b);
    }
  }

  /** The next chunk read (reading side); {@link Chunk#END} after the end. */
  Chunk take() throws InterruptedIOException {
    try {
      return filled.take();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted waiting for " + thread.getName());
    }
  }

  /**
   * Queues {@code n} bytes of {@code b} for the writing thread, which recycles {@code b}.
   *
   * @throws IOException the writing thread's failure (the pipe's reader exited)
   */
  void put(byte[] b, int n) throws IOException {
    checkWrite();
    try {
      while (!filled.offer(new Chunk(b, n, null), 100, TimeUnit.MILLISECONDS)) {
        checkWrite();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted writing to " + thread.getName());
    }
  }

  /**
   * Ends the writing side: waits until everything queued is written and the stream closed.
   *
   * @throws IOException the writing thread's failure
   */
  void finish() throws IOException {
    try {
      while (!filled.offer(Chunk.END, 100, TimeUnit.MILLISECONDS)) {
        checkWrite();
      }
      thread.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted writing to " + thread.getName());
    }
    checkWrite();
  }

  /** Stops the thread (its pipe must be closed too, to end a blocked read or write). */
  void stop() {
    thread.interrupt();
    filled.clear();
  }

  private void checkWrite() throws IOException {
    IOException f = writeFailure;
    if (f != null) {
      throw f;
    }
  }

  private void readLoop(InputStream in) {
    try {
      while (true) {
        byte[] b = buffer();
        int n = 0;
        int r = 0;
        try {
          while (n < b.length && (r = in.read(b, n, b.length - n)) >= 0) {
            n += r;
          }
        } catch (IOException e) {
          if (n > 0) {
            filled.put(new Chunk(b, n, null));
          }
          filled.put(new Chunk(new byte[0], 0, e));
          return;
        }
        if (n > 0) {
          filled.put(new Chunk(b, n, null));
        }
        if (r < 0) {
          filled.put(Chunk.END);
          return;
        }
      }
    } catch (InterruptedException e) {
      // stopped: the consumer is gone
    }
  }

  private void writeLoop(OutputStream out) {
    try {
      while (true) {
        Chunk c = filled.take();
        if (c.n < 0) {
          out.close();
          return;
        }
        out.write(c.b, 0, c.n);
        recycle(c.b);
      }
    } catch (IOException e) {
      writeFailure = e;
      filled.clear();
    } catch (InterruptedException e) {
      // stopped: the receive was killed
    }
  }
}
