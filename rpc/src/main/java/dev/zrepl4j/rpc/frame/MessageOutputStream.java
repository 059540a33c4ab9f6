package dev.zrepl4j.rpc.frame;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Writes one data message as a stream of frames. {@link #close()} sends the final frame (and the
 * trailer, where the peer expects one); {@link #abort(byte[])} ends it with an error trailer. Not
 * thread-safe (one writer per message); the frames go through the connection's {@link FrameWriter}.
 */
public final class MessageOutputStream extends OutputStream {
  private final FrameWriter w;
  private final byte @Nullable [] trailer;
  private boolean closed;

  MessageOutputStream(FrameWriter w, byte @Nullable [] trailer) {
    this.w = w;
    this.trailer = trailer;
  }

  @Override
  public void write(int b) throws IOException {
    write(new byte[] {(byte) b}, 0, 1);
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    Objects.checkFromIndexSize(off, len, b.length);
    if (closed) {
      throw new IOException("data message already closed");
    }
    if (len > 0) {
      w.streamWrite(b, off, len);
    }
  }

  /**
   * Writes the remaining bytes of {@code src} (consumed). A large direct buffer goes to a socket
   * channel without a copy through a heap array.
   */
  public void write(ByteBuffer src) throws IOException {
    if (closed) {
      throw new IOException("data message already closed");
    }
    if (src.hasRemaining()) {
      w.streamWrite(src);
    }
  }

  /** Pushes buffered bytes out as a (non-final) frame. */
  @Override
  public void flush() throws IOException {
    w.keepAliveIfIdle(0);
  }

  /** Ends the message with its final frame (and trailer). Idempotent. */
  @Override
  public void close() throws IOException {
    if (!closed) {
      closed = true;
      w.streamClose(trailer);
    }
  }

  /**
   * Ends the message early with an error trailer (only for peers that understand trailers).
   *
   * @throws IllegalStateException if the message is already closed
   */
  public void abort(byte[] errorTrailer) throws IOException {
    if (closed) {
      throw new IllegalStateException("data message already closed");
    }
    closed = true;
    w.streamAbort(errorTrailer);
  }

  /** Whether {@link #close()} or {@link #abort} was called. */
  public boolean isClosed() {
    return closed;
  }
}
