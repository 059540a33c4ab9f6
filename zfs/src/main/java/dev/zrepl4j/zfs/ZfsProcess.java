package dev.zrepl4j.zfs;

import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running {@code zfs}/{@code zpool} child process. Not thread-safe, except that {@link
 * #close()} may be called from any thread.
 *
 * <p>Implementation notes: stderr is drained on its own virtual thread into a {@link BoundedTail}
 * (so a chatty command can neither block on a full pipe nor exhaust memory). {@link #close()} kills
 * the process and its descendants (a wrapper script that forwards to ssh has some) with SIGKILL,
 * reaps it (no zombie) and closes the three pipes (no leaked descriptor). The stderr drainer is
 * joined with a timeout, because a grandchild that escaped the kill may hold the pipe open.
 */
final class ZfsProcess implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ZfsProcess.class);

  static final int STDERR_TAIL_BYTES = 64 * 1024;
  private static final Duration DRAIN_JOIN = Duration.ofSeconds(5);

  /** Where the child's stdin comes from. */
  enum Stdin {
    NULL,
    PIPE,
    /**
     * A pipe of {@link LargePipe#CAPACITY} (where available): the stream of {@code zfs receive}.
     */
    BULK
  }

  /** Where the child's stdout goes. */
  enum Stdout {
    PIPE,
    DISCARD,
    /** A pipe of {@link LargePipe#CAPACITY} (where available): the stream of {@code zfs send}. */
    BULK
  }

  private final List<String> argv;
  private final Process process;
  private final Exited exited;
  private final BoundedTail stderr = new BoundedTail(STDERR_TAIL_BYTES);
  private final Thread drainer;
  private final InputStream stdout;
  private final OutputStream stdin;
  private boolean closed;

  private ZfsProcess(
      List<String> argv,
      Process process,
      @Nullable InputStream stdout,
      @Nullable OutputStream stdin,
      Exited exited) {
    this.argv = argv;
    this.process = process;
    this.exited = exited;
    this.stdout = stdout != null ? stdout : process.getInputStream();
    this.stdin = stdin != null ? stdin : process.getOutputStream();
    this.drainer =
        Thread.ofVirtual()
            .name("zfs-stderr-" + process.pid())
            .start(() -> stderr.drain(process.getErrorStream()));
  }

  /**
   * Starts {@code argv} without a shell; the {@code BULK} ends are large pipes where {@code pipes}
   * gives them.
   *
   * <p>Before the child starts, its end of each large pipe is opened once from here through the
   * descriptor directory, as {@link ProcessBuilder} will open it: if that is refused ({@link
   * LargePipes#isRefusal}), {@code pipes} is told so and this and later processes get the default
   * pipes. Any other failure (out of descriptors, a binary that cannot be run) fails the start.
   *
   * @throws ZfsException if the binary cannot be started
   */
  static ZfsProcess start(List<String> argv, Stdin stdin, Stdout stdout, LargePipes pipes)
      throws ZfsException {
    return start(argv, stdin, stdout, pipes, Exited.NONE);
  }

  /**
   * Starts {@code binary} followed by {@code args} as {@link #start(List, Stdin, Stdout,
   * LargePipes)} does; {@code listener} is told of its runtime once it exited.
   *
   * @throws ZfsException if the binary cannot be started
   */
  static ZfsProcess start(
      List<String> binary,
      List<String> args,
      Stdin stdin,
      Stdout stdout,
      LargePipes pipes,
      CommandListener listener)
      throws ZfsException {
    var argv = new ArrayList<String>(binary.size() + args.size());
    argv.addAll(binary);
    argv.addAll(args);
    var exited =
        new Exited(String.join(" ", binary), args.isEmpty() ? "" : args.getFirst(), listener);
    return start(argv, stdin, stdout, pipes, exited);
  }

  private static ZfsProcess start(
      List<String> argv, Stdin stdin, Stdout stdout, LargePipes pipes, Exited exited)
      throws ZfsException {
    var pb = new ProcessBuilder(argv);
    if (stdin == Stdin.NULL) {
      pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    }
    if (stdout == Stdout.DISCARD) {
      pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
    }
    LargePipe inPipe = stdin == Stdin.BULK ? pipes.open() : null;
    LargePipe outPipe = stdout == Stdout.BULK ? pipes.open() : null;
    OutputStream ourStdin = null;
    InputStream ourStdout = null;
    try {
      if (inPipe != null || outPipe != null) {
        try {
          if (inPipe != null) {
            reopen(inPipe.readEnd(), StandardOpenOption.READ);
          }
          if (outPipe != null) {
            reopen(outPipe.writeEnd(), StandardOpenOption.WRITE);
          }
        } catch (IOException e) {
          if (!LargePipes.isRefusal(e)) {
            throw e;
          }
          pipes.refuse(e);
          close(inPipe);
          close(outPipe);
          inPipe = null;
          outPipe = null;
        }
      }
      // our ends are opened before the raw descriptors close (see LargePipe)
      if (inPipe != null) {
        pb.redirectInput(inPipe.readEnd().toFile());
        ourStdin = new FileOutputStream(inPipe.writeEnd().toFile());
      }
      if (outPipe != null) {
        pb.redirectOutput(outPipe.writeEnd().toFile());
        ourStdout = new FileInputStream(outPipe.readEnd().toFile());
      }
      var p = pb.start();
      log.debug("started {} (pid {})", argv, p.pid());
      return new ZfsProcess(List.copyOf(argv), p, ourStdout, ourStdin, exited.started());
    } catch (IOException e) {
      closeQuietly(ourStdin);
      closeQuietly(ourStdout);
      var z = new ZfsException(argv, ZfsException.NO_STATUS, "cannot start: " + e.getMessage());
      z.initCause(e);
      throw z;
    } finally {
      close(inPipe);
      close(outPipe);
    }
  }

  private static void close(@Nullable LargePipe pipe) {
    if (pipe != null) {
      pipe.close();
    }
  }

  /** Opens and closes {@code end}: throws what opening it for the child would throw. */
  private static void reopen(Path end, StandardOpenOption mode) throws IOException {
    try (var unused = FileChannel.open(end, mode)) {
      // opened: the child's open of the same path is allowed
    }
  }

  List<String> argv() {
    return argv;
  }

  InputStream stdout() {
    return stdout;
  }

  OutputStream stdin() {
    return stdin;
  }

  long pid() {
    return process.pid();
  }

  /** Waits for the exit and for stderr to be drained; returns the exit status. */
  int waitFor() throws InterruptedIOException {
    try {
      int status = process.waitFor();
      long nanos = exited.report();
      if (log.isDebugEnabled()) {
        var line = String.join(" ", argv);
        log.debug(
            "exited {} after {} ms: {}",
            status,
            nanos / 1_000_000,
            line.length() > 240 ? line.substring(0, 240) + "…" : line);
      }
      drainer.join(DRAIN_JOIN);
      return status;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      close();
      var io = new InterruptedIOException("interrupted waiting for " + argv);
      io.initCause(e);
      throw io;
    }
  }

  /** The stderr kept so far. */
  String stderrTail() {
    return stderr.tail();
  }

  ZfsException failure(int status) {
    return new ZfsException(argv, status, stderr.tail());
  }

  /**
   * Waits for the exit.
   *
   * @throws ZfsException if the exit status is not 0
   */
  void checkSuccess() throws IOException {
    int status = waitFor();
    if (status != 0) {
      throw failure(status);
    }
  }

  /** Kills the process (and descendants) if still running, reaps it and closes its pipes. */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    if (process.isAlive()) {
      log.debug("killing {} (pid {})", argv, process.pid());
      // descendants listed first (once the parent is dead they are re-parented and no longer
      // found), killed after it (killed first, a wrapper script would go on to its next command)
      var children = process.descendants().toList();
      process.destroyForcibly();
      children.forEach(ProcessHandle::destroyForcibly);
    }
    boolean interrupted = false;
    while (true) {
      try {
        process.waitFor();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    exited.report();
    closeQuietly(stdin);
    closeQuietly(stdout);
    try {
      drainer.join(DRAIN_JOIN);
    } catch (InterruptedException e) {
      interrupted = true;
    }
    closeQuietly(process.getErrorStream());
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Reports one process's runtime to its listener, once (at the first {@link #waitFor()} that saw
   * the exit, or at {@link #close()}). Thread-safe.
   */
  static final class Exited {
    static final Exited NONE = new Exited("", "", CommandListener.none());

    private final String binary;
    private final String verb;
    private final CommandListener listener;
    private final long startNanos;
    private final AtomicBoolean reported = new AtomicBoolean();

    Exited(String binary, String verb, CommandListener listener) {
      this(binary, verb, listener, System.nanoTime());
    }

    private Exited(String binary, String verb, CommandListener listener, long startNanos) {
      this.binary = binary;
      this.verb = verb;
      this.listener = listener;
      this.startNanos = startNanos;
    }

    /** A copy whose clock starts now (the process was just started). */
    Exited started() {
      return this == NONE ? NONE : new Exited(binary, verb, listener, System.nanoTime());
    }

    /** Tells the listener, once; returns the runtime in nanoseconds. */
    long report() {
      long nanos = System.nanoTime() - startNanos;
      if (this != NONE && reported.compareAndSet(false, true)) {
        listener.exited(binary, verb, Duration.ofNanos(nanos));
      }
      return nanos;
    }
  }

  private static void closeQuietly(@Nullable AutoCloseable c) {
    if (c == null) {
      return;
    }
    try {
      c.close();
    } catch (Exception e) {
      // closing a pipe of a dead process: nothing to report
    }
  }
}
