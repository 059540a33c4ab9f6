package dev.zrepl4j.rpc.frame;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ProtocolException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The body of one data message as a stream. EOF is reported only after the final frame (and the
 * trailer, where one is expected) has been read, so a stream cut short is an error, never a short
 * body. Not thread-safe.
 *
 * <p>It is also a {@link ReadableByteChannel}: reading into a direct buffer takes large payloads
 * straight from a socket channel, without the copy through a heap array (zfs receive's pipe is then
 * written from the same buffer).
 */
public final class MessageInputStream extends InputStream implements ReadableByteChannel {
  private final FrameReader r;
  private final FrameReader.@Nullable TrailerHandler trailer;
  private boolean started;
  private boolean eof;
  private @Nullable IOException failure;

  MessageInputStream(FrameReader r, FrameReader.@Nullable TrailerHandler trailer) {
    this.r = r;
    this.trailer = trailer;
  }

  @Override
  public int read() throws IOException {
    byte[] one = new byte[1];
    int n = read(one, 0, 1);
    return n < 0 ? -1 : one[0] & 0xFF;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    Objects.checkFromIndexSize(off, len, b.length);
    return len == 0 ? 0 : read(() -> r.readPayload(b, off, len));
  }

  @Override
  public int read(ByteBuffer dst) throws IOException {
    return dst.hasRemaining() ? read(() -> r.readPayload(dst)) : 0;
  }

  /** The stream's state; open until a read failed. */
  @Override
  public boolean isOpen() {
    return failure == null;
  }

  private int read(Payload payload) throws IOException {
    while (true) {
      if (failure != null) {
        throw failure;
      }
      if (eof) {
        return -1;
      }
      try {
        if (started && r.remaining() > 0) {
          return payload.read();
        }
        advance();
      } catch (IOException e) {
        failure = e;
        throw e;
      }
    }
  }

  @FunctionalInterface
  private interface Payload {
    int read() throws IOException;
  }

  /** Moves to the next frame of the message, or to its end. */
  private void advance() throws IOException {
    if (started && r.isFinal()) {
      finish(null);
      return;
    }
    FrameType t = r.nextFrame();
    started = true;
    switch (t) {
      case DATA -> {}
      case TRAILER -> {
        // an error trailer may end a body early (the sender failed midway)
        finish(r.readTrailerPayload(t));
        eof = false;
        throw new ProtocolException(
            "a success trailer ended a data message before its final frame");
      }
      default -> throw new ProtocolException("expected a DATA frame, got " + t);
    }
  }

  private void finish(byte @Nullable [] trailerPayload) throws IOException {
    if (trailer == null) {
      if (trailerPayload != null) {
        throw new ProtocolException("unexpected trailer frame");
      }
      eof = true;
      return;
    }
    byte[] p = trailerPayload != null ? trailerPayload : r.readTrailer();
    trailer.onTrailer(p); // throws for an error status
    eof = true;
  }

  /** Whether the whole message (and its trailer) has been read. */
  public boolean isComplete() {
    return eof;
  }

  @Override
  public long transferTo(OutputStream out) throws IOException {
    byte[] b = new byte[256 * 1024];
    long total = 0;
    int n;
    while ((n = read(b, 0, b.length)) >= 0) {
      out.write(b, 0, n);
      total += n;
    }
    return total;
  }

  /** Reads and discards the rest of the message. */
  public void drain() throws IOException {
    byte[] b = new byte[64 * 1024];
    while (read(b, 0, b.length) >= 0) {
      // discard
    }
  }
}
