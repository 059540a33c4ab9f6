package dev.zrepl4j.zfs;

import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.time.Duration;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The stdout of a running {@code zfs send}. End of stream is only reported when {@code zfs send}
 * exited 0: if it exits non-zero or is killed, the read that reaches the end throws a {@link
 * ZfsException} with its exit status and stderr instead of returning -1 (never a silent EOF). The
 * caller closes it; closing before the end kills the process; a read after {@link #close()} throws
 * an {@link IOException} saying the stream is closed. Not thread-safe, except {@link #close()}.
 *
 * <p>It is also a {@link ReadableByteChannel}: read into a direct buffer, the bytes come from the
 * pipe without a copy through a heap array (and go to a socket channel the same way).
 */
public final class SendStream extends InputStream implements ReadableByteChannel {
  private final ZfsProcess process;
  private final InputStream stdout;
  private final @Nullable FileChannel channel;
  private boolean eof;
  private volatile boolean closed;
  private @Nullable ZfsException failure;

  private final @Nullable StallWatch watch;

  SendStream(ZfsProcess process) {
    this(process, null, () -> {});
  }

  /**
   * @param stallLimit how long one read may block before {@code zfs send} is killed as stuck (null:
   *     no limit)
   * @param onStall runs when it is killed so
   */
  SendStream(ZfsProcess process, @Nullable Duration stallLimit, Runnable onStall) {
    this.process = process;
    this.watch = StallWatch.of(process, stallLimit, "produced no bytes", onStall);
    this.stdout = process.stdout();
    this.channel = stdout instanceof FileInputStream f ? f.getChannel() : null;
  }

  /** The command line of the send. */
  public List<String> argv() {
    return process.argv();
  }

  @Override
  public int read() throws IOException {
    var one = new byte[1];
    int n = read(one, 0, 1);
    return n == -1 ? -1 : one[0] & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    return read(() -> stdout.read(b, off, len));
  }

  @Override
  public int read(ByteBuffer dst) throws IOException {
    var ch = channel;
    if (ch != null) {
      return read(() -> ch.read(dst));
    }
    var heap = new byte[Math.min(dst.remaining(), 256 * 1024)];
    int n = read(heap, 0, heap.length);
    if (n > 0) {
      dst.put(heap, 0, n);
    }
    return n;
  }

  /** Whether the stream can still be read (not failed, not closed). */
  @Override
  public boolean isOpen() {
    return failure == null && !closed;
  }

  private int read(Read r) throws IOException {
    if (closed) {
      // never -1 after close, not even after the end was read: a closed stream has no more data
      throw new IOException("the stream of " + String.join(" ", process.argv()) + " is closed");
    }
    if (failure != null) {
      throw failure;
    }
    if (eof) {
      return -1;
    }
    int n;
    var w = watch;
    if (w == null) {
      n = r.read();
    } else {
      w.enter();
      try {
        n = r.read();
      } catch (IOException e) {
        if (w.fired()) {
          failure = w.failure(process.argv(), process.failure(ZfsException.NO_STATUS).stderr());
          throw failure;
        }
        throw e;
      } finally {
        w.exit();
      }
    }
    if (n == -1) {
      int status = process.waitFor();
      if (w != null && w.fired()) {
        failure = w.failure(process.argv(), process.failure(status).stderr());
        throw failure;
      }
      if (status != 0) {
        failure = process.failure(status);
        throw failure;
      }
      eof = true;
      if (w != null) {
        w.close();
      }
    }
    return n;
  }

  @FunctionalInterface
  private interface Read {
    int read() throws IOException;
  }

  /**
   * Copies the stream with reads as large as the pipe allows (the inherited copy reads 16 KiB at a
   * time: four times the system calls for the same bytes).
   */
  @Override
  public long transferTo(OutputStream out) throws IOException {
    var buf = new byte[256 * 1024];
    long total = 0;
    int n;
    while ((n = read(buf, 0, buf.length)) != -1) {
      out.write(buf, 0, n);
      total += n;
    }
    return total;
  }

  @Override
  public int available() throws IOException {
    return eof || failure != null ? 0 : stdout.available();
  }

  /** Closes the stream; kills {@code zfs send} if it has not finished. Idempotent. */
  @Override
  public void close() {
    closed = true;
    var w = watch;
    if (w != null) {
      w.close();
    }
    process.close();
  }
}
