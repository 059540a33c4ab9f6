package dev.zrepl4j.zfs;

import java.time.Duration;

/**
 * Told of every {@code zfs}/{@code zpool} command a {@link RealZfs} ran, once it exited: the
 * daemon's metrics ({@code zrepl_zfscmd_runtime}) listen here. Called on the thread that waited for
 * the command (or closed it); implementations must be thread-safe and quick.
 */
@FunctionalInterface
public interface CommandListener {
  /**
   * @param binary the binary as configured, its argv prefix joined by spaces ({@code zfs}, or a
   *     wrapper such as {@code sudo zfs})
   * @param verb the first argument after the binary ({@code list}, {@code send}, {@code recv}, ...)
   * @param runtime from the start of the process until its exit was seen (or it was killed)
   */
  void exited(String binary, String verb, Duration runtime);

  /**
   * A command did not finish within its deadline ({@link RealZfs#withCommandTimeout}) and is being
   * killed; {@link #exited} follows.
   */
  default void timedOut(String binary, String verb, Duration deadline) {}

  /** A listener that ignores every command. */
  static CommandListener none() {
    return (binary, verb, runtime) -> {};
  }
}
