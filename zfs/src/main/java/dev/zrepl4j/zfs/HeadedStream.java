package dev.zrepl4j.zfs;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ReadableByteChannel;
import org.jspecify.annotations.Nullable;

/**
 * A send stream whose first {@link StreamBegin#SIZE} bytes were read ahead to see its BEGIN record,
 * then given out again before the rest: the bytes are the same as the source's. The rest is read
 * through the source's channel where it has one (no copy through a heap array). Closing closes the
 * source.
 */
public final class HeadedStream extends InputStream implements ReadableByteChannel {
  private final InputStream source;
  private final @Nullable ReadableByteChannel channel;
  private final byte[] head;
  private final int headLength;
  private int headPos;
  private final @Nullable StreamBegin begin;
  private volatile boolean closed;

  private HeadedStream(InputStream source, byte[] head, int headLength) {
    this.source = source;
    this.channel = source instanceof ReadableByteChannel c ? c : null;
    this.head = head;
    this.headLength = headLength;
    this.begin = StreamBegin.parse(head, headLength);
  }

  /**
   * Reads the head of {@code source} (fewer bytes if it ends sooner; a read error is thrown as is).
   */
  public static HeadedStream read(InputStream source) throws IOException {
    var head = new byte[StreamBegin.SIZE];
    int n = source.readNBytes(head, 0, head.length);
    return new HeadedStream(source, head, n);
  }

  /** The stream's BEGIN record, or null if its head is not one (see {@link StreamBegin#parse}). */
  public @Nullable StreamBegin begin() {
    return begin;
  }

  /** The source stream. */
  public InputStream source() {
    return source;
  }

  @Override
  public int read() throws IOException {
    var one = new byte[1];
    int n = read(one, 0, 1);
    return n == -1 ? -1 : one[0] & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (closed) {
      throw new ClosedChannelException();
    }
    if (len == 0) {
      return 0;
    }
    if (headPos < headLength) {
      int n = Math.min(len, headLength - headPos);
      System.arraycopy(head, headPos, b, off, n);
      headPos += n;
      return n;
    }
    return source.read(b, off, len);
  }

  @Override
  public int read(ByteBuffer dst) throws IOException {
    if (closed) {
      throw new ClosedChannelException();
    }
    if (headPos < headLength) {
      int n = Math.min(dst.remaining(), headLength - headPos);
      dst.put(head, headPos, n);
      headPos += n;
      return n;
    }
    var c = channel;
    if (c != null) {
      return c.read(dst);
    }
    if (!dst.hasRemaining()) {
      return 0;
    }
    var buf = new byte[Math.min(dst.remaining(), 1 << 16)];
    int n = source.read(buf, 0, buf.length);
    if (n > 0) {
      dst.put(buf, 0, n);
    }
    return n;
  }

  @Override
  public int available() throws IOException {
    return headPos < headLength ? headLength - headPos : source.available();
  }

  @Override
  public boolean isOpen() {
    return !closed;
  }

  @Override
  public void close() throws IOException {
    closed = true;
    source.close();
  }
}
