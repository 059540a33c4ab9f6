package dev.zrepl4j.rpc.frame;

import static dev.zrepl4j.rpc.frame.Limits.FRAME_HEADER_SIZE;
import static dev.zrepl4j.rpc.frame.Limits.MAX_HEADER_MESSAGE;
import static dev.zrepl4j.rpc.frame.Limits.MAX_PAYLOAD;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.ProtocolException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decodes frames and messages from a byte stream.
 *
 * <pre>
 * +----------+-----------+------------------------+---------------------+
 * | type (8) | final (8) | length (32, little-e.) | payload (length)... |
 * +----------+-----------+------------------------+---------------------+
 * </pre>
 *
 * <p>A message is a run of frames of one type whose last frame has final set. Lengths are checked
 * against {@link Limits} before anything is allocated or read; a frame of an unexpected type is a
 * {@link ProtocolException}; an empty frame is never turned into a zero-length read.
 *
 * <p>This class is not thread-safe: each connection has exactly one reader thread.
 */
public final class FrameReader {
  private static final Logger log = LoggerFactory.getLogger(FrameReader.class);

  // reads of a payload at least this large, with nothing buffered, go straight into the caller's
  // buffer; and over a channel, a header read reads ahead at most this much. Otherwise a header
  // read drags up to a buffer's worth of the next payload through the heap array (two more copies
  // of most of a zfs stream, the frames being whatever a pipe read gave, mostly under 1 MiB).
  static final int DIRECT_READ_MIN = Integer.getInteger("zrepl4j.rpc.directReadMin", 16 * 1024);

  private final InputStream in;
  private final @Nullable DirectSource direct;
  // starts small and grows to fullSize when a data stream begins (a connection that only makes
  // calls, or has not yet said anything, holds 16 KiB instead of a whole buffer: issue 17's flood)
  private byte[] buf;
  private final int fullSize;
  private int pos;
  private int lim;

  private boolean keepAlivesAllowed;
  private @Nullable FrameType type;
  private boolean fin = true;
  private int remaining;

  /**
   * @param in the stream to read; the reader never closes it
   * @param bufferSize the read buffer; payload reads of at least 16 KiB (or half of it) bypass it
   */
  public FrameReader(InputStream in, int bufferSize) {
    this(in, null, bufferSize);
  }

  /**
   * @param in the stream to read; the reader never closes it
   * @param direct reads the same bytes as {@code in} into a byte buffer (a socket channel): large
   *     payload reads into a direct buffer then skip the copy through a heap array; or null
   * @param bufferSize the read buffer; payload reads of at least 16 KiB (or half of it) bypass it
   */
  public FrameReader(InputStream in, @Nullable DirectSource direct, int bufferSize) {
    if (bufferSize < 64) {
      throw new IllegalArgumentException("bufferSize " + bufferSize + " < 64");
    }
    this.in = in;
    this.direct = direct;
    this.fullSize = bufferSize;
    this.buf = new byte[Math.min(bufferSize, INITIAL_SIZE)];
  }

  /** The read buffer's size before the peer has sent in bulk. */
  static final int INITIAL_SIZE = 16 * 1024;

  /** The read buffer's current size (for tests). */
  int bufferSize() {
    return buf.length;
  }

  /** Grows the buffer to its full size (a data stream begins; buffered bytes are kept). */
  private void grow() {
    if (buf.length < fullSize) {
      buf = Arrays.copyOf(buf, fullSize);
    }
  }

  /** Accepts {@link FrameType#KEEPALIVE} frames from now on (after protocol negotiation). */
  public void allowKeepAlives() {
    keepAlivesAllowed = true;
  }

  /** True if the reader holds no unread bytes of a message (a clean message boundary). */
  public boolean atMessageBoundary() {
    return fin && remaining == 0;
  }

  /** Whether bytes can be read without blocking (buffered, or reported by the stream). */
  public boolean inputAvailable() throws IOException {
    return pos < lim || in.available() > 0;
  }

  /**
   * Whether a frame other than a keep-alive has (at least partly) arrived, without blocking: the
   * keep-alive frames that arrived whole are consumed. A peer that is alive but has not answered
   * yet (a server sending keep-alives while it takes a long request body) so does not look like an
   * answer. Call only at a frame boundary (between messages).
   */
  public boolean frameAvailable() throws IOException {
    while (true) {
      if (lim - pos < FRAME_HEADER_SIZE) {
        int avail = in.available();
        if (avail > 0) {
          if (pos > 0) {
            System.arraycopy(buf, pos, buf, 0, lim - pos);
            lim -= pos;
            pos = 0;
          }
          int got = in.read(buf, lim, Math.min(avail, buf.length - lim));
          if (got < 0) {
            return true; // the end of the stream: the next read reports it
          }
          lim += got;
          continue;
        }
        // a partial frame header: an answer unless it may still become a keep-alive
        return lim > pos && (buf[pos] & 0xFF) != FrameType.KEEPALIVE.wire();
      }
      boolean keepAlive =
          keepAlivesAllowed
              && (buf[pos] & 0xFF) == FrameType.KEEPALIVE.wire()
              && buf[pos + 2] == 0
              && buf[pos + 3] == 0
              && buf[pos + 4] == 0
              && buf[pos + 5] == 0;
      if (!keepAlive) {
        return true;
      }
      pos += FRAME_HEADER_SIZE;
    }
  }

  // ---------------------------------------------------------------------------------------- frames

  /**
   * Reads the next frame header, skipping keep-alives where allowed.
   *
   * @return the frame's type; {@link #remaining()} and {@link #isFinal()} describe it
   * @throws EOFException if the stream ends before the frame header (at a frame boundary)
   * @throws ResetException if the frame is an RST
   * @throws ProtocolException for an unknown type or a length over 4 MiB
   */
  public FrameType nextFrame() throws IOException {
    while (true) {
      fill(FRAME_HEADER_SIZE);
      int t = buf[pos] & 0xFF;
      boolean f = buf[pos + 1] != 0;
      long len =
          (buf[pos + 2] & 0xFFL)
              | (buf[pos + 3] & 0xFFL) << 8
              | (buf[pos + 4] & 0xFFL) << 16
              | (buf[pos + 5] & 0xFFL) << 24;
      pos += FRAME_HEADER_SIZE;
      FrameType ft = FrameType.of(t);
      if (log.isTraceEnabled()) {
        log.trace("read frame type={} final={} length={}", ft, f, len);
      }
      if (ft == FrameType.RST) {
        type = null;
        fin = true;
        remaining = 0;
        throw new ResetException();
      }
      if (len > MAX_PAYLOAD) {
        throw new ProtocolException(
            "frame length " + len + " exceeds limit " + MAX_PAYLOAD + " (type " + ft + ")");
      }
      if (ft == FrameType.KEEPALIVE) {
        if (!keepAlivesAllowed) {
          throw new ProtocolException("keep-alive frame before protocol negotiation");
        }
        if (len != 0) {
          throw new ProtocolException("keep-alive frame with payload length " + len);
        }
        continue;
      }
      type = ft;
      fin = f;
      remaining = (int) len;
      return ft;
    }
  }

  /** Bytes of the current frame's payload not yet read. */
  public int remaining() {
    return remaining;
  }

  /** Whether the current frame is the last of its message. */
  public boolean isFinal() {
    return fin;
  }

  /**
   * Reads at most {@code len} payload bytes of the current frame; 0 only if len or remaining is 0.
   */
  int readPayload(byte[] b, int off, int len) throws IOException {
    return readPayload(ByteBuffer.wrap(b, off, len));
  }

  /**
   * Reads at most {@code dst.remaining()} payload bytes of the current frame into {@code dst}; 0
   * only if there is no room or nothing remains. A large read with nothing buffered goes straight
   * into {@code dst}: a heap buffer's array from the stream, a direct buffer from the channel.
   */
  int readPayload(ByteBuffer dst) throws IOException {
    int n = Math.min(dst.remaining(), remaining);
    if (n == 0) {
      return 0;
    }
    int got;
    var d = direct;
    if (pos < lim) {
      got = Math.min(n, lim - pos);
      dst.put(buf, pos, got);
      pos += got;
    } else if (n >= Math.min(DIRECT_READ_MIN, buf.length / 2) && dst.hasArray()) {
      got = in.read(dst.array(), dst.arrayOffset() + dst.position(), n);
      if (got > 0) {
        dst.position(dst.position() + got);
      }
    } else if (n >= Math.min(DIRECT_READ_MIN, buf.length / 2) && d != null && dst.isDirect()) {
      int limit = dst.limit();
      dst.limit(dst.position() + n);
      try {
        got = d.read(dst);
      } finally {
        dst.limit(limit);
      }
    } else {
      refill();
      got = Math.min(n, lim - pos);
      dst.put(buf, pos, got);
      pos += got;
    }
    if (got < 0) {
      throw new EOFException("stream ended inside a frame (" + remaining + " bytes missing)");
    }
    remaining -= got;
    return got;
  }

  /** Reads and discards the rest of the current frame's payload. */
  void skipPayload() throws IOException {
    while (remaining > 0) {
      if (pos == lim) {
        refill();
      }
      int n = Math.min(remaining, lim - pos);
      pos += n;
      remaining -= n;
    }
  }

  // -------------------------------------------------------------------------------------- messages

  /**
   * Reads one whole header message (at most 4096 bytes over all its frames).
   *
   * @throws EOFException if the stream ends cleanly before the message starts
   */
  public byte[] readHeaderMessage() throws IOException {
    requireBoundary();
    byte[] out = null;
    int total = 0;
    while (skipSeedEmptyHeaderFrame()) {
      log.debug("skipped an empty header frame (seed writer after a 4096-byte header)");
    }
    do {
      FrameType t = nextFrame();
      if (t != FrameType.HEADER) {
        throw new ProtocolException("expected a HEADER frame, got " + t);
      }
      if (total + remaining > MAX_HEADER_MESSAGE) {
        throw new ProtocolException(
            "header message of more than "
                + MAX_HEADER_MESSAGE
                + " bytes ("
                + (total + remaining)
                + " so far)");
      }
      if (out == null) {
        out = new byte[remaining];
      } else if (remaining > 0) {
        out = Arrays.copyOf(out, total + remaining);
      }
      while (remaining > 0) {
        total += readPayload(out, total, remaining);
      }
    } while (!fin);
    return out;
  }

  /**
   * Reads one whole data message into memory.
   *
   * @param limit the largest message accepted (checked frame by frame, before reading)
   */
  public byte[] readDataMessage(int limit) throws IOException {
    requireBoundary();
    // grown geometrically (never past the limit) and trimmed at the end: copying the message so
    // far for every frame made a body sent in tiny frames cost quadratic time and allocation
    byte[] out = new byte[0];
    int total = 0;
    do {
      FrameType t = nextFrame();
      if (t != FrameType.DATA) {
        throw new ProtocolException("expected a DATA frame, got " + t);
      }
      if ((long) total + remaining > limit) {
        throw new ProtocolException(
            "data message of more than "
                + limit
                + " bytes ("
                + ((long) total + remaining)
                + " announced so far)");
      }
      if (remaining > 0) {
        int need = total + remaining;
        if (need > out.length) {
          out = Arrays.copyOf(out, (int) Math.max(need, Math.min(limit, 2L * out.length)));
        }
        while (remaining > 0) {
          total += readPayload(out, total, remaining);
        }
      }
    } while (!fin);
    return total == out.length ? out : Arrays.copyOf(out, total);
  }

  /**
   * Reads and discards one data message whose first frame header may already have been read
   * (resynchronises the stream after a request that is rejected before its body was read).
   */
  public void skipDataMessage() throws IOException {
    if (atMessageBoundary()) {
      FrameType t = nextFrame();
      if (t != FrameType.DATA) {
        throw new ProtocolException("expected a DATA frame, got " + t);
      }
    }
    while (true) {
      skipPayload();
      if (fin) {
        return;
      }
      FrameType t = nextFrame();
      if (t != FrameType.DATA) {
        throw new ProtocolException("expected a DATA frame, got " + t);
      }
    }
  }

  /**
   * Reads one trailer frame (the end-of-stream status that follows an octet body).
   *
   * @return its payload
   */
  public byte[] readTrailer() throws IOException {
    requireBoundary();
    FrameType t = nextFrame();
    return readTrailerPayload(t);
  }

  byte[] readTrailerPayload(FrameType t) throws IOException {
    if (t != FrameType.TRAILER) {
      throw new ProtocolException("expected a TRAILER frame, got " + t);
    }
    if (!fin) {
      throw new ProtocolException("trailer frame without the final flag");
    }
    if (remaining > MAX_HEADER_MESSAGE) {
      throw new ProtocolException(
          "trailer of " + remaining + " bytes (limit " + MAX_HEADER_MESSAGE + ")");
    }
    byte[] out = new byte[remaining];
    int n = 0;
    while (remaining > 0) {
      n += readPayload(out, n, remaining);
    }
    return out;
  }

  /**
   * Skips one empty final HEADER frame if it is the next frame (the seed's writer emits one after a
   * header message of exactly 4096 bytes). Returns false, consuming nothing, otherwise.
   */
  public boolean skipSeedEmptyHeaderFrame() throws IOException {
    requireBoundary();
    fill(FRAME_HEADER_SIZE);
    if (buf[pos] == 0x01
        && buf[pos + 1] != 0
        && buf[pos + 2] == 0
        && buf[pos + 3] == 0
        && buf[pos + 4] == 0
        && buf[pos + 5] == 0) {
      pos += FRAME_HEADER_SIZE;
      return true;
    }
    return false;
  }

  /**
   * An input stream over the data message that starts at the next frame.
   *
   * @param trailer called with the trailer's payload after the final data frame; null if the peer
   *     sends no trailer (seed protocol)
   */
  public MessageInputStream dataStream(@Nullable TrailerHandler trailer) throws IOException {
    grow();
    requireBoundary();
    return new MessageInputStream(this, trailer);
  }

  private void requireBoundary() {
    if (!atMessageBoundary()) {
      throw new IllegalStateException(
          "previous message not fully read (" + remaining + " bytes left in frame " + type + ")");
    }
  }

  // ---------------------------------------------------------------------------------------- buffer

  /** Ensures at least {@code n} bytes are buffered; EOF before the first one is clean. */
  private void fill(int n) throws IOException {
    if (lim - pos >= n) {
      return;
    }
    if (pos > 0) {
      System.arraycopy(buf, pos, buf, 0, lim - pos);
      lim -= pos;
      pos = 0;
    }
    int ahead = direct == null ? buf.length : Math.max(n, DIRECT_READ_MIN);
    while (lim < n) {
      int got = in.read(buf, lim, Math.min(buf.length, ahead) - lim);
      if (got < 0) {
        if (lim == 0) {
          throw new EOFException("stream ended");
        }
        throw new EOFException(
            "stream ended inside a frame header (" + lim + " of " + n + " bytes)");
      }
      lim += got;
    }
  }

  private void refill() throws IOException {
    pos = 0;
    lim = 0;
    int got = in.read(buf, 0, direct == null ? buf.length : Math.min(buf.length, DIRECT_READ_MIN));
    if (got < 0) {
      throw new EOFException("stream ended inside a frame (" + remaining + " bytes missing)");
    }
    lim = got;
  }

  /** The source's bytes read into a byte buffer (blocking: at least one byte, or -1 at its end). */
  @FunctionalInterface
  public interface DirectSource {
    int read(ByteBuffer dst) throws IOException;
  }

  /** Receives the payload of the trailer that ends an octet body. */
  @FunctionalInterface
  public interface TrailerHandler {
    /**
     * @throws IOException to make the body's reader fail with it (an error status)
     */
    void onTrailer(byte[] payload) throws IOException;
  }
}
