package dev.zrepl4j.zfs;

import java.io.IOException;
import java.util.List;
import java.util.function.Predicate;

/**
 * A {@code zfs} or {@code zpool} command failed: it exited non-zero, was killed, or its output
 * could not be parsed. Carries the argv, the exit status (or {@link #NO_STATUS}) and the tail of
 * its stderr.
 */
public class ZfsException extends IOException {
  private static final long serialVersionUID = 1L;

  /** {@link #exitStatus()} when the command did not exit by itself (or never ran). */
  public static final int NO_STATUS = -1;

  private final List<String> argv;
  private final int exitStatus;
  private final String stderr;

  public ZfsException(List<String> argv, int exitStatus, String stderr) {
    this(describe(argv, exitStatus, stderr), argv, exitStatus, stderr);
  }

  protected ZfsException(String message, List<String> argv, int exitStatus, String stderr) {
    super(message);
    this.argv = List.copyOf(argv);
    this.exitStatus = exitStatus;
    this.stderr = stderr;
  }

  private static String describe(List<String> argv, int status, String stderr) {
    var how =
        status > 128 && status < 160
            ? "was killed by signal " + (status - 128) + " (exit status " + status + ")"
            : "exited with status " + status;
    var last = stderr.strip();
    int nl = last.lastIndexOf('\n');
    var lastLine = nl >= 0 ? last.substring(nl + 1) : last;
    return "zfs command " + argv + " " + how + (lastLine.isEmpty() ? "" : ": " + lastLine);
  }

  /**
   * A command killed at its limit ({@code global.zrepl4j_zfs_command_timeout}): {@code what} it
   * failed to do in {@code limit}, e.g. "did not finish within".
   */
  static ZfsException killedAtLimit(
      List<String> argv, String what, java.time.Duration limit, String stderr) {
    return new ZfsException(
        "zfs command "
            + argv
            + " "
            + what
            + " "
            + limit
            + " and was killed (a hung pool, or a stuck zfs? global.zrepl4j_zfs_command_timeout"
            + " sets the limit)",
        argv,
        NO_STATUS,
        stderr);
  }

  /** The command line that failed. */
  public List<String> argv() {
    return argv;
  }

  /** The exit status, or {@link #NO_STATUS}. */
  public int exitStatus() {
    return exitStatus;
  }

  /** The tail of the command's stderr (bounded; exact when short). */
  public String stderr() {
    return stderr;
  }

  /**
   * Whether {@code stderr} has lines and each of them passes {@code line}: how a command given
   * several datasets tells that it failed for some of them only in one expected way (a cut tail
   * starts with a marker line, which then fails the test).
   */
  public static boolean everyLine(String stderr, Predicate<String> line) {
    var lines = stderr.strip().lines().filter(l -> !l.isBlank()).toList();
    return !lines.isEmpty() && lines.stream().allMatch(l -> line.test(l.strip()));
  }
}
