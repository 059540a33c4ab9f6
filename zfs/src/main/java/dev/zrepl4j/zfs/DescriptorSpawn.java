package dev.zrepl4j.zfs;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts a child process with descriptors this process holds as its stdin and stdout: the direct
 * data path's {@code zfs send} writing into a socket and {@code zfs recv} reading from one
 * (docs/DIRECT-PATH.md §3). {@link ProcessBuilder} cannot do that: it redirects only to files and
 * its own pipes, and a socket cannot be reopened through {@code /proc/self/fd}.
 *
 * <p>Implementation notes: glibc's {@code posix_spawnp} through the FFM API, with file actions that
 * {@code dup2} the given descriptors onto 0 and 1 ({@code /dev/null} where none is given), a pipe
 * onto 2 (read to its end into a bounded tail), and close every other descriptor ({@code
 * posix_spawn_file_actions_addclosefrom_np}, glibc 2.34; Debian 12 has 2.36); the signal mask is
 * emptied and SIGPIPE set to its default, so the child sees a closed peer as {@code zfs} expects.
 * The environment is this JVM's. A platform thread per child reads its stderr to the end, then
 * reaps it with {@code waitpid} (a blocking downcall must not pin a virtual thread's carrier); the
 * JDK's own reaper waits only for the children it started, so the two never take each other's.
 * Where the downcalls cannot be made (not Linux, native access denied, an older glibc), {@link
 * #load()} returns null. Thread-safe.
 */
final class DescriptorSpawn {
  private static final Logger log = LoggerFactory.getLogger(DescriptorSpawn.class);

  private static final int O_RDONLY = 0;
  private static final int O_CLOEXEC = 0x80000;
  private static final int AF_UNIX = 1;
  private static final int SOCK_STREAM = 1;
  private static final int SIGPIPE = 13;
  private static final int SIGKILL = 9;
  private static final short POSIX_SPAWN_SETSIGDEF = 0x04;
  private static final short POSIX_SPAWN_SETSIGMASK = 0x08;
  // glibc x86_64/aarch64: posix_spawn_file_actions_t is 80 bytes, posix_spawnattr_t 336, sigset_t
  // 128; allocated with room to spare
  private static final long FILE_ACTIONS_SIZE = 256;
  private static final long ATTR_SIZE = 512;
  private static final long SIGSET_SIZE = 256;
  // errno as the call left it (read after the call, it may be the JVM's own by then)
  private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
  private static final VarHandle ERRNO =
      CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
  private static final int EINTR = 4;

  /** The most of a child's stderr that is kept: its last bytes. */
  static final int STDERR_TAIL = 16 * 1024;

  private final Native n;

  private DescriptorSpawn(Native n) {
    this.n = n;
  }

  /** The spawner, or null where the downcalls cannot be made here. */
  static @Nullable DescriptorSpawn load() {
    var n = Native.load();
    return n == null ? null : new DescriptorSpawn(n);
  }

  /**
   * Starts {@code argv} (the program found on {@code PATH}) with {@code stdin} and {@code stdout}
   * as its descriptors 0 and 1 (-1: {@code /dev/null}). The caller keeps its own copies of them and
   * closes them when it no longer needs them (the child has its own).
   *
   * @throws IOException if the program cannot be started (naming it and the error)
   */
  Child start(List<String> argv, int stdin, int stdout) throws IOException {
    if (argv.isEmpty()) {
      throw new IllegalArgumentException("no program to start");
    }
    int[] err = pipe();
    long pid;
    try (var arena = Arena.ofConfined()) {
      var actions = arena.allocate(FILE_ACTIONS_SIZE, 16);
      var attr = arena.allocate(ATTR_SIZE, 16);
      check((int) n.actionsInit.invokeExact(actions), "posix_spawn_file_actions_init");
      check((int) n.attrInit.invokeExact(attr), "posix_spawnattr_init");
      try {
        var devNull = arena.allocateFrom("/dev/null");
        check(
            stdin >= 0
                ? (int) n.addDup2.invokeExact(actions, stdin, 0)
                : (int) n.addOpen.invokeExact(actions, 0, devNull, O_RDONLY, 0),
            "posix_spawn_file_actions_adddup2 (stdin)");
        check(
            stdout >= 0
                ? (int) n.addDup2.invokeExact(actions, stdout, 1)
                : (int) n.addOpen.invokeExact(actions, 1, devNull, 1 /* O_WRONLY */, 0),
            "posix_spawn_file_actions_adddup2 (stdout)");
        check((int) n.addDup2.invokeExact(actions, err[1], 2), "posix_spawn_file_actions_adddup2");
        check((int) n.addCloseFrom.invokeExact(actions, 3), "posix_spawn_file_actions_closefrom");
        var mask = arena.allocate(SIGSET_SIZE, 16);
        check((int) n.sigemptyset.invokeExact(mask), "sigemptyset");
        check((int) n.attrSetSigmask.invokeExact(attr, mask), "posix_spawnattr_setsigmask");
        var defaults = arena.allocate(SIGSET_SIZE, 16);
        check((int) n.sigemptyset.invokeExact(defaults), "sigemptyset");
        check((int) n.sigaddset.invokeExact(defaults, SIGPIPE), "sigaddset");
        check(
            (int) n.attrSetSigdefault.invokeExact(attr, defaults), "posix_spawnattr_setsigdefault");
        check(
            (int)
                n.attrSetFlags.invokeExact(
                    attr, (short) (POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)),
            "posix_spawnattr_setflags");
        var pidOut = arena.allocate(ValueLayout.JAVA_INT);
        int rc =
            (int)
                n.spawnp.invokeExact(
                    pidOut,
                    arena.allocateFrom(argv.getFirst()),
                    actions,
                    attr,
                    strings(arena, argv),
                    strings(arena, environment()));
        if (rc != 0) {
          throw new IOException(
              "cannot start " + argv.getFirst() + ": " + strerror(rc) + " (errno " + rc + ")");
        }
        pid = pidOut.get(ValueLayout.JAVA_INT, 0);
      } finally {
        int a = (int) n.actionsDestroy.invokeExact(actions);
        int b = (int) n.attrDestroy.invokeExact(attr);
        if (a != 0 || b != 0) {
          log.debug("destroying the spawn's file actions or attributes failed: {} {}", a, b);
        }
      }
    } catch (IOException | RuntimeException e) {
      closeQuietly(err[0]);
      closeQuietly(err[1]);
      throw e;
    } catch (Throwable t) {
      closeQuietly(err[0]);
      closeQuietly(err[1]);
      throw new IllegalStateException("posix_spawnp failed", t);
    }
    closeQuietly(err[1]); // the child has its own
    return new Child(pid, List.copyOf(argv), err[0]);
  }

  /** A started child: its pid, its exit status once it ended, and the tail of its stderr. */
  final class Child implements AutoCloseable {
    private final long pid;
    private final List<String> argv;
    private final CompletableFuture<Integer> status = new CompletableFuture<>();
    private final BoundedTail stderr = new BoundedTail(STDERR_TAIL);

    private Child(long pid, List<String> argv, int stderrFd) {
      this.pid = pid;
      this.argv = argv;
      Thread.ofPlatform()
          .daemon()
          .name("spawned-" + pid)
          .start(
              () -> {
                drain(stderrFd);
                status.complete(reap());
              });
    }

    long pid() {
      return pid;
    }

    List<String> argv() {
      return argv;
    }

    /**
     * Waits for the child to end: its exit status, or 128 + the signal that ended it (as a shell
     * reports it).
     */
    int waitFor() throws InterruptedException {
      try {
        return status.get();
      } catch (ExecutionException e) {
        throw new IllegalStateException("reaping " + pid + " failed", e.getCause());
      }
    }

    /**
     * The exit status as {@link #waitFor()} gives it, or null if it has not ended within {@code
     * limit}.
     */
    @Nullable Integer waitFor(java.time.Duration limit) throws InterruptedException {
      try {
        return status.get(limit.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        return null;
      } catch (ExecutionException e) {
        throw new IllegalStateException("reaping " + pid + " failed", e.getCause());
      }
    }

    /** Whether the child has ended and been reaped. */
    boolean exited() {
      return status.isDone();
    }

    /** The last {@link #STDERR_TAIL} bytes of its stderr so far, as text. */
    String stderrTail() {
      return stderr.tail();
    }

    /** Kills the child (SIGKILL) unless it has been reaped already. */
    void kill() {
      if (status.isDone()) {
        return; // its pid may be another process's by now
      }
      try {
        int rc = (int) n.kill.invokeExact((int) pid, SIGKILL);
        if (rc != 0) {
          log.debug("kill {} failed (it may have exited)", pid);
        }
      } catch (Throwable t) {
        throw new IllegalStateException("kill(2) failed", t);
      }
    }

    /** Kills the child if it still runs. */
    @Override
    public void close() {
      kill();
    }

    private void drain(int fd) {
      try (var arena = Arena.ofConfined()) {
        var buf = arena.allocate(8192);
        var state = arena.allocate(CALL_STATE);
        var bytes = new byte[8192];
        while (true) {
          long got = (long) n.read.invokeExact(state, fd, buf, (long) bytes.length);
          if (got == -1 && errno(state) == EINTR) {
            continue;
          }
          if (got <= 0) {
            break; // the end (every writer closed it), or an error: nothing more to read
          }
          MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, 0, bytes, 0, (int) got);
          stderr.write(bytes, 0, (int) got);
        }
      } catch (Throwable t) {
        log.debug("reading the stderr of {} failed: {}", pid, t.toString());
      } finally {
        closeQuietly(fd);
      }
    }

    private int reap() {
      try (var arena = Arena.ofConfined()) {
        var st = arena.allocate(ValueLayout.JAVA_INT);
        var state = arena.allocate(CALL_STATE);
        while (true) {
          int r = (int) n.waitpid.invokeExact(state, (int) pid, st, 0);
          if (r == pid) {
            int s = st.get(ValueLayout.JAVA_INT, 0);
            int signal = s & 0x7f;
            return signal == 0 ? (s >> 8) & 0xff : 128 + signal;
          }
          // EINTR: wait again; any other error (ECHILD) cannot be waited out
          if (r == -1 && errno(state) != EINTR) {
            throw new IllegalStateException("waitpid " + pid + ": errno " + errno(state));
          }
        }
      } catch (Throwable t) {
        status.completeExceptionally(t);
        return -1;
      }
    }
  }

  // ---- the few descriptors the data path and the tests need ---------------------------------

  /** A pipe, both ends close-on-exec: {read, write}. */
  int[] pipe() throws IOException {
    try (var arena = Arena.ofConfined()) {
      var fds = arena.allocate(ValueLayout.JAVA_INT, 2);
      var state = arena.allocate(CALL_STATE);
      if ((int) n.pipe2.invokeExact(state, fds, O_CLOEXEC) != 0) {
        throw new IOException("pipe2 failed: errno " + errno(state));
      }
      return new int[] {
        fds.getAtIndex(ValueLayout.JAVA_INT, 0), fds.getAtIndex(ValueLayout.JAVA_INT, 1)
      };
    } catch (IOException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("pipe2 failed", t);
    }
  }

  /** A connected pair of Unix stream sockets, close-on-exec. */
  int[] socketPair() throws IOException {
    try (var arena = Arena.ofConfined()) {
      var fds = arena.allocate(ValueLayout.JAVA_INT, 2);
      var state = arena.allocate(CALL_STATE);
      if ((int) n.socketpair.invokeExact(state, AF_UNIX, SOCK_STREAM | O_CLOEXEC, 0, fds) != 0) {
        throw new IOException("socketpair failed: errno " + errno(state));
      }
      return new int[] {
        fds.getAtIndex(ValueLayout.JAVA_INT, 0), fds.getAtIndex(ValueLayout.JAVA_INT, 1)
      };
    } catch (IOException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("socketpair failed", t);
    }
  }

  /** Reads up to {@code len} bytes of {@code fd} into {@code b}: their count, 0 at the end. */
  int read(int fd, byte[] b, int len) throws IOException {
    try (var arena = Arena.ofConfined()) {
      var buf = arena.allocate(Math.max(1, len));
      var state = arena.allocate(CALL_STATE);
      long got;
      do {
        got = (long) n.read.invokeExact(state, fd, buf, (long) len);
      } while (got == -1 && errno(state) == EINTR);
      if (got < 0) {
        throw new IOException("read failed: errno " + errno(state));
      }
      MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, 0, b, 0, (int) got);
      return (int) got;
    } catch (IOException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("read failed", t);
    }
  }

  /** Writes all of {@code b} to {@code fd}. */
  void write(int fd, byte[] b) throws IOException {
    try (var arena = Arena.ofConfined()) {
      var buf = arena.allocateFrom(ValueLayout.JAVA_BYTE, b);
      var state = arena.allocate(CALL_STATE);
      long off = 0;
      while (off < b.length) {
        long put = (long) n.write.invokeExact(state, fd, buf.asSlice(off), (long) b.length - off);
        if (put == -1 && errno(state) == EINTR) {
          continue;
        }
        if (put < 0) {
          throw new IOException("write failed: errno " + errno(state));
        }
        off += put;
      }
    } catch (IOException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("write failed", t);
    }
  }

  /** Closes {@code fd}; a failure is only logged. */
  void closeQuietly(int fd) {
    try {
      if ((int) n.close.invokeExact(fd) != 0) {
        log.debug("close({}) failed", fd);
      }
    } catch (Throwable t) {
      throw new IllegalStateException("close(2) failed", t);
    }
  }

  // ---- helpers --------------------------------------------------------------------------------

  private static void check(int rc, String what) throws IOException {
    if (rc != 0) {
      throw new IOException(what + " failed: errno " + rc);
    }
  }

  /** A NULL-terminated array of C strings. */
  private static MemorySegment strings(Arena arena, List<String> values) {
    var array = arena.allocate(ValueLayout.ADDRESS, values.size() + 1L);
    for (int i = 0; i < values.size(); i++) {
      array.setAtIndex(ValueLayout.ADDRESS, i, arena.allocateFrom(values.get(i)));
    }
    array.setAtIndex(ValueLayout.ADDRESS, values.size(), MemorySegment.NULL);
    return array;
  }

  private static List<String> environment() {
    var env = new ArrayList<String>();
    for (Map.Entry<String, String> e : System.getenv().entrySet()) {
      env.add(e.getKey() + "=" + e.getValue());
    }
    return env;
  }

  private String strerror(int errno) {
    try {
      var s = (MemorySegment) n.strerror.invokeExact(errno);
      return s.reinterpret(1024).getString(0, StandardCharsets.UTF_8);
    } catch (Throwable t) {
      return "errno " + errno;
    }
  }

  /** errno as a call with the captured state {@code state} left it. */
  private static int errno(MemorySegment state) {
    return (int) ERRNO.get(state, 0L);
  }

  /**
   * A downcall to libc's {@code name}; with {@code errno}, its first argument is the call state.
   */
  private static MethodHandle h(
      Linker linker, SymbolLookup libc, String name, FunctionDescriptor d, boolean errno) {
    return errno
        ? linker.downcallHandle(libc.findOrThrow(name), d, Linker.Option.captureCallState("errno"))
        : linker.downcallHandle(libc.findOrThrow(name), d);
  }

  /** The downcalls, or null where they cannot be made. */
  private record Native(
      MethodHandle spawnp,
      MethodHandle actionsInit,
      MethodHandle actionsDestroy,
      MethodHandle addDup2,
      MethodHandle addOpen,
      MethodHandle addCloseFrom,
      MethodHandle attrInit,
      MethodHandle attrDestroy,
      MethodHandle attrSetFlags,
      MethodHandle attrSetSigmask,
      MethodHandle attrSetSigdefault,
      MethodHandle sigemptyset,
      MethodHandle sigaddset,
      MethodHandle waitpid,
      MethodHandle kill,
      MethodHandle pipe2,
      MethodHandle socketpair,
      MethodHandle read,
      MethodHandle write,
      MethodHandle close,
      MethodHandle strerror) {

    static @Nullable Native load() {
      if (!System.getProperty("os.name", "").equals("Linux")) {
        return null;
      }
      try {
        var linker = Linker.nativeLinker();
        var libc = linker.defaultLookup();
        var i = ValueLayout.JAVA_INT;
        var l = ValueLayout.JAVA_LONG;
        var a = ValueLayout.ADDRESS;
        var s = ValueLayout.JAVA_SHORT;
        return new Native(
            h(linker, libc, "posix_spawnp", FunctionDescriptor.of(i, a, a, a, a, a, a), false),
            h(linker, libc, "posix_spawn_file_actions_init", FunctionDescriptor.of(i, a), false),
            h(linker, libc, "posix_spawn_file_actions_destroy", FunctionDescriptor.of(i, a), false),
            h(
                linker,
                libc,
                "posix_spawn_file_actions_adddup2",
                FunctionDescriptor.of(i, a, i, i),
                false),
            h(
                linker,
                libc,
                "posix_spawn_file_actions_addopen",
                FunctionDescriptor.of(i, a, i, a, i, i),
                false),
            h(
                linker,
                libc,
                "posix_spawn_file_actions_addclosefrom_np",
                FunctionDescriptor.of(i, a, i),
                false),
            h(linker, libc, "posix_spawnattr_init", FunctionDescriptor.of(i, a), false),
            h(linker, libc, "posix_spawnattr_destroy", FunctionDescriptor.of(i, a), false),
            h(linker, libc, "posix_spawnattr_setflags", FunctionDescriptor.of(i, a, s), false),
            h(linker, libc, "posix_spawnattr_setsigmask", FunctionDescriptor.of(i, a, a), false),
            h(linker, libc, "posix_spawnattr_setsigdefault", FunctionDescriptor.of(i, a, a), false),
            h(linker, libc, "sigemptyset", FunctionDescriptor.of(i, a), false),
            h(linker, libc, "sigaddset", FunctionDescriptor.of(i, a, i), false),
            h(linker, libc, "waitpid", FunctionDescriptor.of(i, i, a, i), true),
            h(linker, libc, "kill", FunctionDescriptor.of(i, i, i), false),
            h(linker, libc, "pipe2", FunctionDescriptor.of(i, a, i), true),
            h(linker, libc, "socketpair", FunctionDescriptor.of(i, i, i, i, a), true),
            h(linker, libc, "read", FunctionDescriptor.of(l, i, a, l), true),
            h(linker, libc, "write", FunctionDescriptor.of(l, i, a, l), true),
            h(linker, libc, "close", FunctionDescriptor.of(i, i), false),
            h(linker, libc, "strerror", FunctionDescriptor.of(a, i), false));
      } catch (RuntimeException e) {
        // IllegalCallerException when native access is denied; others when libc lacks a symbol
        log.debug("spawning with descriptors is not available: {}", e.toString());
        return null;
      }
    }
  }
}
