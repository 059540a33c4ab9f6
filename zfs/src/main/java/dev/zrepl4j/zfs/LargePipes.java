package dev.zrepl4j.zfs;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the bulk streams of one {@link RealZfs} go through {@link LargePipe}s, and where their
 * ends are reopened. Thread-safe.
 *
 * <p>Large pipes are off from the start under {@code -Dzrepl4j.zfs.smallPipes=true} or where {@code
 * /proc/self/fd} is missing (both read once, by {@link #standard()}). They are turned off for good,
 * with one warning, the first time reopening a pipe's end through the descriptor directory is
 * refused ({@link #isRefusal}: a policy such as an LSM or a hardened {@code /proc}); from then on
 * this instance hands out no large pipe and {@link ProcessBuilder}'s own pipes carry the streams.
 * That decision belongs to the instance (one per {@link RealZfs}), not to the JVM.
 */
final class LargePipes {
  private static final Logger log = LoggerFactory.getLogger(LargePipes.class);

  /** Where the real descriptors of this process are reopened. */
  static final Path PROC_FD = Path.of("/proc/self/fd");

  /** The system property that turns large pipes off. */
  static final String SMALL_PIPES_PROPERTY = "zrepl4j.zfs.smallPipes";

  private final Path fdDirectory;
  private final boolean wanted;
  private final AtomicBoolean refused = new AtomicBoolean();

  /**
   * @param fdDirectory where pipe ends are reopened: {@link #PROC_FD}, or in tests a directory
   *     where reopening fails
   * @param wanted false to use {@link ProcessBuilder}'s pipes always
   */
  LargePipes(Path fdDirectory, boolean wanted) {
    this.fdDirectory = fdDirectory;
    this.wanted = wanted;
  }

  /** The real policy: {@link #PROC_FD}, unless the system property or a missing /proc say no. */
  static LargePipes standard() {
    boolean small = Boolean.getBoolean(SMALL_PIPES_PROPERTY);
    boolean proc = Files.isDirectory(PROC_FD);
    if (small || !proc) {
      log.debug(
          "large pipes not used: {}",
          small ? "-D" + SMALL_PIPES_PROPERTY + "=true" : "no " + PROC_FD);
    }
    return new LargePipes(PROC_FD, !small && proc);
  }

  /** A new large pipe, or null when this policy or the platform says not to use one. */
  @Nullable LargePipe open() {
    if (!wanted || refused.get()) {
      return null;
    }
    return LargePipe.open(fdDirectory);
  }

  /**
   * Whether {@code e}, thrown by opening a pipe's end under the descriptor directory, means that
   * reopening is refused here (denied, or the path does not exist) rather than that this one start
   * failed (out of descriptors, or anything else).
   */
  static boolean isRefusal(IOException e) {
    return e instanceof AccessDeniedException || e instanceof NoSuchFileException;
  }

  /** Turns large pipes off for good (see the class note); warns the first time only. */
  void refuse(IOException why) {
    if (refused.compareAndSet(false, true)) {
      log.warn(
          "1 MiB pipes to zfs are refused here ({}); using the default pipes (slower bulk streams)",
          why.toString());
    }
  }

  /** Whether {@link #refuse} was called. */
  boolean refused() {
    return refused.get();
  }
}
