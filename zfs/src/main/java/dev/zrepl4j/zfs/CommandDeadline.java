package dev.zrepl4j.zfs;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The deadline of one {@code zfs} command that does not stream (a listing, a hold, a destroy...):
 * one that has not exited when it passes is killed, so that a hung pool or a stuck {@code zfs}
 * (zrepl#791) fails the operation that waits for it, with a message that says so, instead of
 * stalling its job for good. Streams ({@code send}, {@code recv}) are judged by their progress
 * elsewhere. Thread-safe.
 */
final class CommandDeadline implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(CommandDeadline.class);

  private static final int RUNNING = 0;
  private static final int DONE = 1;
  private static final int FIRED = 2;

  private final AtomicInteger state = new AtomicInteger(RUNNING);
  private final Duration timeout;
  private final Thread watcher;

  private CommandDeadline(ZfsProcess p, Duration timeout, Runnable onFire) {
    this.timeout = timeout;
    this.watcher =
        Thread.ofVirtual()
            .name("zfs-deadline")
            .start(
                () -> {
                  try {
                    Thread.sleep(timeout);
                  } catch (InterruptedException e) {
                    return;
                  }
                  if (state.compareAndSet(RUNNING, FIRED)) {
                    log.warn(
                        "zfs command {} did not finish within {}: killing it", p.argv(), timeout);
                    onFire.run();
                    p.close();
                  }
                });
  }

  /** Watches {@code p}; {@code onFire} runs (before the kill) if the deadline passes. */
  static CommandDeadline watch(ZfsProcess p, Duration timeout, Runnable onFire) {
    return new CommandDeadline(p, timeout, onFire);
  }

  /**
   * The command is over: the deadline no longer applies. Returns whether it ended before the
   * deadline, {@code false} if the deadline passed first (and killed it).
   */
  boolean finish() {
    if (state.compareAndSet(RUNNING, DONE)) {
      watcher.interrupt();
      return true;
    }
    return state.get() == DONE;
  }

  /** The failure of a command this deadline killed. */
  ZfsException failure(List<String> argv, String stderr) {
    return ZfsException.killedAtLimit(argv, "did not finish within", timeout, stderr);
  }

  @Override
  public void close() {
    finish();
  }
}
