package dev.zrepl4j.rpc.frame;

import static dev.zrepl4j.rpc.frame.Limits.FRAME_HEADER_SIZE;
import static dev.zrepl4j.rpc.frame.Limits.MAX_HEADER_MESSAGE;
import static dev.zrepl4j.rpc.frame.Limits.MAX_PAYLOAD;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.util.Arrays;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Encodes frames onto a byte stream (wire format: see {@link FrameReader}).
 *
 * <p>Frames are assembled in one reusable buffer and written with as few system calls as possible:
 * a whole JSON call (header message and body) is one write. Payloads at least as large as the
 * buffer bypass it. A data message being streamed keeps an "open" frame at the end of the buffer
 * whose header is patched when the frame is closed.
 *
 * <p>This class is thread-safe: one lock guards the buffer and is held across I/O only for whole
 * frames. The lock lets a keep-alive timer slip a frame in between two frames of a message.
 */
public final class FrameWriter {
  private static final Logger log = LoggerFactory.getLogger(FrameWriter.class);

  /**
   * The smallest direct payload written as its own frame by a gathering write; smaller ones are
   * copied into the buffer. (A pipe read returns what zfs send has written so far, often far less
   * than the buffer: copied, it would cross the heap twice.)
   */
  private static final int DIRECT_MIN = 32 * 1024;

  private final OutputStream out;
  private final @Nullable GatheringByteChannel channel;
  private final ByteBuffer directHeader = ByteBuffer.allocateDirect(FRAME_HEADER_SIZE);
  private final ReentrantLock lock = new ReentrantLock();
  // starts at INITIAL_SIZE and grows to fullSize at the first data written (a connection that only
  // makes calls, or has not yet said anything, holds 16 KiB instead of a whole buffer: issue 17)
  private byte[] buf;
  private final int fullSize;
  private int len;

  /** Offset in {@link #buf} of the reserved header of the open data frame, or -1. */
  private int open = -1;

  private volatile long lastWriteNanos = System.nanoTime();
  private boolean keepAlives;

  /**
   * @param out the stream to write; the writer never closes it
   * @param bufferSize assembly buffer; at least 4096 + 2 frame headers
   */
  public FrameWriter(OutputStream out, int bufferSize) {
    this(out, null, bufferSize);
  }

  /**
   * @param out the stream to write; the writer never closes it
   * @param channel writes to the same place as {@code out} (a socket channel): large payloads in
   *     direct buffers go out with the frame header in one gathering write, without a copy through
   *     a heap array; or null
   * @param bufferSize assembly buffer; at least 4096 + 2 frame headers
   */
  public FrameWriter(OutputStream out, @Nullable GatheringByteChannel channel, int bufferSize) {
    this.channel = channel;
    if (bufferSize < MAX_HEADER_MESSAGE + 2 * FRAME_HEADER_SIZE) {
      throw new IllegalArgumentException("bufferSize " + bufferSize + " too small");
    }
    this.out = out;
    this.fullSize = bufferSize;
    this.buf = new byte[Math.min(bufferSize, INITIAL_SIZE)];
  }

  /** The assembly buffer's size before the first data is written. */
  static final int INITIAL_SIZE = 16 * 1024;

  /** The assembly buffer's current size (for tests). */
  int bufferSize() {
    lock.lock();
    try {
      return buf.length;
    } finally {
      lock.unlock();
    }
  }

  /** Grows the buffer to its full size (under the lock): data is about to be written. */
  private void grow() {
    if (buf.length < fullSize) {
      buf = Arrays.copyOf(buf, fullSize);
    }
  }

  /** Sends keep-alive frames from now on (after protocol negotiation). */
  public void allowKeepAlives() {
    lock.lock();
    try {
      keepAlives = true;
    } finally {
      lock.unlock();
    }
  }

  /** {@link System#nanoTime()} of the last write to the stream. */
  public long lastWriteNanos() {
    return lastWriteNanos;
  }

  /**
   * Appends a header message (one frame with the final flag).
   *
   * @throws IllegalArgumentException if {@code json} is longer than 4096 bytes
   */
  public void headerMessage(byte[] json) throws IOException {
    if (json.length > MAX_HEADER_MESSAGE) {
      throw new IllegalArgumentException(
          "header message of " + json.length + " bytes exceeds " + MAX_HEADER_MESSAGE);
    }
    lock.lock();
    try {
      requireNoOpenFrame();
      appendFrame(FrameType.HEADER, true, json, 0, json.length);
    } finally {
      lock.unlock();
    }
  }

  /** Appends a complete data message (as many frames as needed, the last one final). */
  public void dataMessage(byte[] b, int off, int n) throws IOException {
    lock.lock();
    try {
      requireNoOpenFrame();
      do {
        int chunk = Math.min(n, MAX_PAYLOAD);
        appendFrame(FrameType.DATA, chunk == n, b, off, chunk);
        off += chunk;
        n -= chunk;
      } while (n > 0);
    } finally {
      lock.unlock();
    }
  }

  /** Appends a trailer frame (end-of-stream status). */
  public void trailer(byte[] payload) throws IOException {
    lock.lock();
    try {
      requireNoOpenFrame();
      appendFrame(FrameType.TRAILER, true, payload, 0, payload.length);
    } finally {
      lock.unlock();
    }
  }

  /** Writes an RST frame and flushes (the caller then closes the stream). */
  public void rst() throws IOException {
    lock.lock();
    try {
      len = 0;
      open = -1;
      appendFrame(FrameType.RST, true, buf, 0, 0);
      flushLocked();
    } finally {
      lock.unlock();
    }
  }

  /** Writes everything buffered. */
  public void flush() throws IOException {
    lock.lock();
    try {
      flushLocked();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Opens a data message to be written as a stream.
   *
   * @param trailer written after the final frame when the stream is closed; null for none
   */
  public MessageOutputStream dataStream(byte @Nullable [] trailer) {
    return new MessageOutputStream(this, trailer);
  }

  /**
   * If nothing was written for {@code idleNanos}, pushes out a partly filled data frame or a
   * keep-alive frame. Never waits for the lock: a writer that holds it is not idle.
   */
  public void keepAliveIfIdle(long idleNanos) throws IOException {
    if (!lock.tryLock()) {
      return;
    }
    try {
      if (System.nanoTime() - lastWriteNanos < idleNanos) {
        return;
      }
      endOpenFrame(); // an empty reservation is dropped: the stream reopens a frame lazily
      if (len == 0) {
        if (!keepAlives) {
          return;
        }
        appendFrame(FrameType.KEEPALIVE, true, buf, 0, 0);
      }
      flushLocked();
    } finally {
      lock.unlock();
    }
  }

  // ------------------------------------------------------------------------ streaming (package)

  void streamWrite(byte[] b, int off, int n) throws IOException {
    lock.lock();
    try {
      grow();
      if (n >= buf.length / 2) {
        flushForLargePayload();
        while (n > 0) {
          int chunk = Math.min(n, MAX_PAYLOAD);
          putHeader(0, FrameType.DATA, false, chunk);
          out.write(buf, 0, FRAME_HEADER_SIZE);
          out.write(b, off, chunk);
          lastWriteNanos = System.nanoTime();
          trace(FrameType.DATA, false, chunk);
          off += chunk;
          n -= chunk;
        }
        return;
      }
      appendData(ByteBuffer.wrap(b, off, n));
    } finally {
      lock.unlock();
    }
  }

  /** Copies {@code src} into the open data frame (opening, closing and flushing frames). */
  private void appendData(ByteBuffer src) throws IOException {
    while (src.hasRemaining()) {
      if (open < 0) {
        if (buf.length - len < FRAME_HEADER_SIZE + 1) {
          flushLocked();
        }
        open = len;
        len += FRAME_HEADER_SIZE;
      }
      int space = Math.min(buf.length - len, MAX_PAYLOAD - (len - open - FRAME_HEADER_SIZE));
      if (space == 0) {
        closeOpenFrame(false);
        flushLocked();
        continue;
      }
      int c = Math.min(space, src.remaining());
      src.get(buf, len, c);
      len += c;
    }
  }

  /** Writes the remaining bytes of {@code src} as data (it is consumed). */
  void streamWrite(ByteBuffer src) throws IOException {
    var ch = channel;
    if (ch == null || !src.isDirect() || src.remaining() < DIRECT_MIN) {
      lock.lock();
      try {
        grow();
        if (src.remaining() >= buf.length / 2 && src.hasArray()) {
          streamWrite(src.array(), src.arrayOffset() + src.position(), src.remaining());
          src.position(src.limit());
        } else {
          appendData(src); // small, or no channel: through the frame buffer
        }
      } finally {
        lock.unlock();
      }
      return;
    }
    lock.lock();
    try {
      flushForLargePayload();
      var bufs = new ByteBuffer[] {directHeader, src};
      int limit = src.limit();
      try {
        while (src.hasRemaining()) {
          int chunk = Math.min(src.remaining(), MAX_PAYLOAD);
          putHeader(0, FrameType.DATA, false, chunk);
          directHeader.clear().put(buf, 0, FRAME_HEADER_SIZE).flip();
          src.limit(src.position() + chunk);
          while (directHeader.hasRemaining() || src.hasRemaining()) {
            ch.write(bufs);
          }
          src.limit(limit);
          lastWriteNanos = System.nanoTime();
          trace(FrameType.DATA, false, chunk);
        }
      } finally {
        src.limit(limit);
      }
    } finally {
      lock.unlock();
    }
  }

  /** Ends the open frame (or drops its empty reservation) and writes out the buffer. */
  private void flushForLargePayload() throws IOException {
    endOpenFrame();
    flushLocked();
  }

  /** Closes the open data frame as not final, or drops its reservation if it is still empty. */
  private void endOpenFrame() {
    if (open >= 0) {
      if (len - open > FRAME_HEADER_SIZE) {
        closeOpenFrame(false);
      } else {
        len = open;
        open = -1;
      }
    }
  }

  void streamClose(byte @Nullable [] trailer) throws IOException {
    lock.lock();
    try {
      if (open < 0) {
        if (buf.length - len < FRAME_HEADER_SIZE) {
          flushLocked();
        }
        open = len;
        len += FRAME_HEADER_SIZE;
      }
      closeOpenFrame(true);
      if (trailer != null) {
        appendFrame(FrameType.TRAILER, true, trailer, 0, trailer.length);
      }
      flushLocked();
    } finally {
      lock.unlock();
    }
  }

  /** Ends a stream early with an error trailer, discarding any open frame's header reservation. */
  void streamAbort(byte[] errorTrailer) throws IOException {
    lock.lock();
    try {
      endOpenFrame();
      appendFrame(FrameType.TRAILER, true, errorTrailer, 0, errorTrailer.length);
      flushLocked();
    } finally {
      lock.unlock();
    }
  }

  // ------------------------------------------------------------------------------------ internals

  private void requireNoOpenFrame() {
    if (open >= 0) {
      throw new IllegalStateException("a data stream is still open on this connection");
    }
  }

  private void appendFrame(FrameType t, boolean fin, byte[] b, int off, int n) throws IOException {
    if (buf.length - len < FRAME_HEADER_SIZE + n) {
      flushLocked();
    }
    if (buf.length < FRAME_HEADER_SIZE + n) {
      putHeader(0, t, fin, n);
      out.write(buf, 0, FRAME_HEADER_SIZE);
      out.write(b, off, n);
      lastWriteNanos = System.nanoTime();
    } else {
      putHeader(len, t, fin, n);
      System.arraycopy(b, off, buf, len + FRAME_HEADER_SIZE, n);
      len += FRAME_HEADER_SIZE + n;
    }
    trace(t, fin, n);
  }

  private void closeOpenFrame(boolean fin) {
    int n = len - open - FRAME_HEADER_SIZE;
    putHeader(open, FrameType.DATA, fin, n);
    open = -1;
    trace(FrameType.DATA, fin, n);
  }

  private void putHeader(int at, FrameType t, boolean fin, int n) {
    buf[at] = (byte) t.wire();
    buf[at + 1] = (byte) (fin ? 1 : 0);
    buf[at + 2] = (byte) n;
    buf[at + 3] = (byte) (n >>> 8);
    buf[at + 4] = (byte) (n >>> 16);
    buf[at + 5] = (byte) (n >>> 24);
  }

  private void flushLocked() throws IOException {
    int n = open >= 0 ? open : len; // an open frame stays until it is closed
    if (n > 0) {
      out.write(buf, 0, n);
      lastWriteNanos = System.nanoTime();
      if (open >= 0) {
        System.arraycopy(buf, open, buf, 0, len - open);
        len -= open;
        open = 0;
      } else {
        len = 0;
      }
    }
    out.flush();
  }

  private static void trace(FrameType t, boolean fin, int n) {
    if (log.isTraceEnabled()) {
      log.trace("write frame type={} final={} length={}", t, fin, n);
    }
  }
}
