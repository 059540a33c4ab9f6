package dev.zrepl4j.zfs;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Linux pipe with a capacity of {@link #CAPACITY} instead of the default 64 KiB, for the bulk
 * stream between {@code zfs send} or {@code zfs receive} and us.
 *
 * <p>Why: with 64 KiB the writer fills the pipe in a fraction of a millisecond and then sleeps
 * until the reader is scheduled; every 64 KiB costs two wake-ups on each side. On zfs-fuse (whose
 * daemon does the reading and writing of the pipe) a C relay over TCP measured 416–529 MiB/s with
 * default pipes and 582–645 MiB/s with 1 MiB pipes (larger ones were no better).
 *
 * <p>Implementation notes: {@code pipe2(2)} and {@code fcntl(F_SETPIPE_SZ)} are called through the
 * FFM API. {@link ProcessBuilder} cannot take a descriptor, so each end is handed over as the path
 * {@code /proc/self/fd/N} (under the descriptor directory {@link LargePipes} gives): opening it
 * opens the same pipe (the child's end by {@link ProcessBuilder}, ours as a {@link
 * java.io.FileInputStream} or {@link java.io.FileOutputStream}). The caller opens both ends before
 * {@link #close()} closes the raw descriptors, so no open ever waits for the other side. Where the
 * downcalls cannot be made (not Linux, native access denied) or {@code pipe2} fails, {@link
 * #open(Path)} returns null and the caller uses {@link ProcessBuilder}'s own pipes; a capacity the
 * kernel refuses ({@code /proc/sys/fs/pipe-max-size} below it for a non-root user) leaves the
 * default one. Thread-safe.
 */
final class LargePipe implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LargePipe.class);

  static final int CAPACITY = 1 << 20;

  private static final int O_CLOEXEC = 0x80000;
  private static final int F_SETPIPE_SZ = 1031;
  private static final int F_GETPIPE_SZ = 1032;
  private static final @Nullable Native NATIVE = Native.load();

  private final Path fdDirectory;
  private final int readFd;
  private final int writeFd;
  private final int capacity;
  private boolean closed;

  private LargePipe(Path fdDirectory, int readFd, int writeFd, int capacity) {
    this.fdDirectory = fdDirectory;
    this.readFd = readFd;
    this.writeFd = writeFd;
    this.capacity = capacity;
  }

  /**
   * A new pipe whose ends are reopened under {@code fdDirectory} (the real one is {@link
   * LargePipes#PROC_FD}), or null when large pipes cannot be made here.
   */
  static @Nullable LargePipe open(Path fdDirectory) {
    var n = NATIVE;
    if (n == null) {
      return null;
    }
    try (var arena = Arena.ofConfined()) {
      var fds = arena.allocate(ValueLayout.JAVA_INT, 2);
      int rc = (int) n.pipe2.invokeExact(fds, O_CLOEXEC);
      if (rc != 0) {
        log.debug("pipe2 failed: large pipes not used");
        return null;
      }
      int r = fds.getAtIndex(ValueLayout.JAVA_INT, 0);
      int w = fds.getAtIndex(ValueLayout.JAVA_INT, 1);
      int set = (int) n.fcntl.invokeExact(w, F_SETPIPE_SZ, CAPACITY);
      int capacity = set > 0 ? set : (int) n.fcntl.invokeExact(w, F_GETPIPE_SZ, 0);
      return new LargePipe(fdDirectory, r, w, capacity);
    } catch (Throwable t) {
      log.debug("large pipe failed: {}", t.toString());
      return null;
    }
  }

  /** The path that opens the read end. */
  Path readEnd() {
    return fdDirectory.resolve(Integer.toString(readFd));
  }

  /** The path that opens the write end. */
  Path writeEnd() {
    return fdDirectory.resolve(Integer.toString(writeFd));
  }

  /** The pipe's capacity in bytes as the kernel reports it. */
  int capacity() {
    return capacity;
  }

  /** Closes the raw descriptors (ends opened through the paths stay open). Idempotent. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    var n = NATIVE;
    if (n == null) {
      return;
    }
    try {
      int a = (int) n.close.invokeExact(readFd);
      int b = (int) n.close.invokeExact(writeFd);
      if (a != 0 || b != 0) {
        log.debug("closing pipe descriptors {} {} failed", readFd, writeFd);
      }
    } catch (Throwable t) {
      throw new IllegalStateException("close(2) failed", t);
    }
  }

  /** The downcalls, or null where they cannot be made. */
  private record Native(MethodHandle pipe2, MethodHandle fcntl, MethodHandle close) {
    static @Nullable Native load() {
      if (!System.getProperty("os.name", "").equals("Linux")) {
        return null;
      }
      try {
        var linker = Linker.nativeLinker();
        var libc = linker.defaultLookup();
        var pipe2 =
            linker.downcallHandle(
                libc.findOrThrow("pipe2"),
                FunctionDescriptor.of(
                    ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
        var fcntl =
            linker.downcallHandle(
                libc.findOrThrow("fcntl"),
                FunctionDescriptor.of(
                    ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT),
                Linker.Option.firstVariadicArg(2));
        var close =
            linker.downcallHandle(
                libc.findOrThrow("close"),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
        return new Native(pipe2, fcntl, close);
      } catch (RuntimeException e) {
        // IllegalCallerException when native access is denied; others when libc lacks a symbol
        log.debug("large pipes not available: {}", e.toString());
        return null;
      }
    }
  }
}
