package dev.zrepl4j.zfs;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The stdout of a running {@code zfs send}. End of stream is only reported when {@code zfs send}
 * exited 0: if it exits non-zero or is killed, the read that reaches the end throws a {@link
 * ZfsException} with its exit status and stderr instead of returning -1 (never a silent EOF). The
 * caller closes it; closing before the end kills the process. Not thread-safe, except {@link
 * #close()}.
 *
 * <p>Implementation notes: a platform thread reads the pipe ahead in chunks of 1 MiB (see {@link
 * PipeThread} for why).
 */
public final class SendStream extends InputStream {
  private final ZfsProcess process;
  private final PipeThread pipe;
  private PipeThread.@Nullable Chunk chunk;
  private int pos;
  private boolean eof;
  private @Nullable IOException failure;

  SendStream(ZfsProcess process) {
    this.process = process;
    this.pipe = PipeThread.reading(process.stdout(), "zfs-send-" + process.pid());
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
    if (failure != null) {
      throw failure;
    }
    if (eof) {
      return -1;
    }
    java.util.Objects.checkFromIndexSize(off, len, b.length);
    if (len == 0) {
      return 0;
    }
    var c = chunk;
    if (c == null || pos == c.n) {
      if (c != null) {
        pipe.recycle(c.b);
        chunk = null;
      }
      c = pipe.take();
      if (c.failure != null) {
        failure = c.failure;
        throw c.failure;
      }
      if (c.n < 0) {
        int status = process.waitFor();
        if (status != 0) {
          var f = process.failure(status);
          failure = f;
          throw f;
        }
        eof = true;
        return -1;
      }
      chunk = c;
      pos = 0;
    }
    int n = Math.min(len, c.n - pos);
    System.arraycopy(c.b, pos, b, off, n);
    pos += n;
    return n;
  }

  /** Copies the stream in chunks of 1 MiB (the inherited copy reads 16 KiB at a time). */
  @Override
  public long transferTo(java.io.OutputStream out) throws IOException {
    var buf = new byte[PipeThread.CHUNK];
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
    var c = chunk;
    return eof || failure != null || c == null ? 0 : c.n - pos;
  }

  /** Closes the stream; kills {@code zfs send} if it has not finished. Idempotent. */
  @Override
  public void close() {
    process.close();
    pipe.stop();
  }
}
