package dev.zrepl4j.zfs;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/** Returns at most one byte per read, to test parsers against arbitrary chunking. */
final class OneByteInputStream extends FilterInputStream {
  OneByteInputStream(InputStream in) {
    super(in);
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    return len == 0 ? 0 : super.read(b, off, 1);
  }
}
