package dev.zrepl4j.rpc;

import java.io.IOException;
import java.io.InputStream;
import java.util.function.LongSupplier;

/**
 * A request body that can also write itself straight into a socket, with no copy through the JVM: a
 * {@code zfs send} started with the socket as its stdout (the direct data path,
 * docs/DIRECT-PATH.md). A network client that negotiated the path with its server asks {@link
 * #direct()}, and if it says yes, opens a data connection and calls {@link #writeInto} instead of
 * reading the body; otherwise it reads the body as any other. Wrappers of a body (counting, errors)
 * implement it by forwarding.
 */
public interface DirectSource {
  /**
   * Whether {@link #writeInto} can be used for this body. May prepare the source (e.g. check the
   * step the send is for); a failure to do that is thrown by the body's first read instead, so this
   * returns false then.
   */
  boolean direct();

  /**
   * Writes the whole body into the connected socket {@code fd} and returns once it is written and
   * its writer ended successfully; throws otherwise (the body is then not complete, and the caller
   * tells the server so). The socket stays open: the caller ends it.
   *
   * @param sent the bytes that left through the socket so far, as the kernel counts them (for a
   *     stall watch)
   */
  void writeInto(int fd, LongSupplier sent) throws IOException;

  /** The bytes that left so far, told by the caller a few times a second and once at the end. */
  default void progress(long bytes) {}

  /**
   * A stream that wraps another (counting it, opening it lazily, translating its errors) and is a
   * direct source exactly where the wrapped stream is one: the three calls go through to it.
   */
  interface Wrapping extends DirectSource {
    /** The wrapped stream (opened now if it opens at its first use). */
    InputStream wrapped() throws IOException;

    @Override
    default boolean direct() {
      try {
        return wrapped() instanceof DirectSource d && d.direct();
      } catch (IOException e) {
        return false; // the first read throws it again, as it was raised
      }
    }

    @Override
    default void writeInto(int fd, LongSupplier sent) throws IOException {
      if (!(wrapped() instanceof DirectSource d)) {
        throw new IllegalStateException("not a direct source");
      }
      d.writeInto(fd, sent);
    }

    @Override
    default void progress(long bytes) {
      try {
        if (wrapped() instanceof DirectSource d) {
          d.progress(bytes);
        }
      } catch (IOException e) {
        // not opened: nothing went direct, nothing to tell
      }
    }
  }
}
