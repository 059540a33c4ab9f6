package dev.zrepl4j.replication;

import dev.zrepl4j.rpc.ByteChannels;
import dev.zrepl4j.rpc.DirectSource;
import dev.zrepl4j.rpc.DirectStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.function.LongConsumer;
import org.jspecify.annotations.Nullable;

/**
 * Counts the bytes read from a step's stream and reports the running total. A channel when the
 * stream is one (zfs send's pipe, an RPC body), so the bytes can go through direct buffers. Not
 * thread-safe.
 */
final class CountingStream extends FilterInputStream
    implements ReadableByteChannel, DirectSource.Wrapping, DirectStream.Carrier {
  private final LongConsumer total;
  private volatile long count;

  /**
   * @param total told the running total after every read that returned bytes
   */
  CountingStream(InputStream in, LongConsumer total) {
    super(in);
    this.total = total;
  }

  /** The bytes read so far. */
  long count() {
    return count;
  }

  @Override
  public int read() throws IOException {
    int b = super.read();
    if (b >= 0) {
      add(1);
    }
    return b;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    int n = super.read(b, off, len);
    if (n > 0) {
      add(n);
    }
    return n;
  }

  @Override
  public long skip(long n) throws IOException {
    long s = super.skip(n);
    add(s);
    return s;
  }

  @Override
  public int read(ByteBuffer dst) throws IOException {
    int n = ByteChannels.read(in, dst);
    if (n > 0) {
      add(n);
    }
    return n;
  }

  @Override
  public boolean isOpen() {
    return !(in instanceof ReadableByteChannel ch) || ch.isOpen();
  }

  @Override
  public @Nullable DirectStream directStream() {
    return DirectStream.of(in);
  }

  @Override
  public InputStream wrapped() {
    return in;
  }

  /** On the direct path: the kernel's count of the bytes that left is the running total. */
  @Override
  public void progress(long bytes) {
    if (bytes > count) {
      count = bytes;
      total.accept(bytes);
    }
    DirectSource.Wrapping.super.progress(bytes);
  }

  private void add(long n) {
    count += n;
    total.accept(count);
  }
}
