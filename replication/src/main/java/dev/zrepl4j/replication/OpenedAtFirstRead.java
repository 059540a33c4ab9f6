package dev.zrepl4j.replication;

import dev.zrepl4j.rpc.ByteChannels;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import org.jspecify.annotations.Nullable;

/**
 * A stream opened at its first read: every read goes to what {@link #open} returned. Closing closes
 * that, if it was opened; a read after closing throws. A channel, so that a channel source (zfs
 * send's pipe, an RPC body) keeps its direct-buffer path. Not thread-safe.
 */
abstract class OpenedAtFirstRead extends InputStream implements ReadableByteChannel {
  private @Nullable InputStream in;
  private boolean closed;

  /** Opens the stream: called by the first read (again by the next if it threw). */
  abstract InputStream open() throws IOException;

  /** The stream, opened now if it was not. */
  final InputStream in() throws IOException {
    var s = in;
    if (s != null) {
      return s;
    }
    if (closed) {
      throw new IOException("stream closed");
    }
    s = open();
    in = s;
    return s;
  }

  /** The stream if it was opened, else null. */
  final @Nullable InputStream opened() {
    return in;
  }

  /** Whether {@link #close} was called. */
  final boolean closed() {
    return closed;
  }

  @Override
  public int read() throws IOException {
    return in().read();
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    return in().read(b, off, len);
  }

  @Override
  public int read(ByteBuffer dst) throws IOException {
    return ByteChannels.read(in(), dst);
  }

  @Override
  public int available() throws IOException {
    var s = in;
    return s == null ? 0 : s.available();
  }

  @Override
  public boolean isOpen() {
    return !closed;
  }

  @Override
  public void close() throws IOException {
    closed = true;
    var s = in;
    if (s != null) {
      s.close();
    }
  }
}
