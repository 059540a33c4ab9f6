package dev.zrepl4j.rpc;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;

/**
 * Reading a stream that may also be a {@link ReadableByteChannel}: bulk streams (zfs send's pipe,
 * an RPC body) are both, and their wrappers pass a direct buffer through to the channel.
 */
public final class ByteChannels {
  private ByteChannels() {}

  /**
   * {@link InputStream#read()} of a stream whose bulk {@code read(byte[], int, int)} does the work
   * (every channel-backed stream here): one byte through it, or -1 at the end.
   */
  public static int readByte(InputStream in) throws IOException {
    byte[] one = new byte[1];
    return in.read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
  }

  /**
   * Reads into {@code dst} from {@code in}: as a channel when it is one (a direct buffer then skips
   * the copy through a heap array), else through a heap array.
   */
  public static int read(InputStream in, ByteBuffer dst) throws IOException {
    if (in instanceof ReadableByteChannel ch) {
      return ch.read(dst);
    }
    if (dst.hasArray()) {
      int n = in.read(dst.array(), dst.arrayOffset() + dst.position(), dst.remaining());
      if (n > 0) {
        dst.position(dst.position() + n);
      }
      return n;
    }
    var heap = new byte[Math.min(dst.remaining(), 64 * 1024)]; // a stream that is no channel
    int n = in.read(heap, 0, heap.length);
    if (n > 0) {
      dst.put(heap, 0, n);
    }
    return n;
  }
}
