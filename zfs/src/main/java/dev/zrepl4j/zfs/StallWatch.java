package dev.zrepl4j.zfs;

import java.time.Duration;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The progress deadline of a {@code zfs send} or {@code zfs receive} stream: the time one read from
 * {@code zfs send} (or one write into {@code zfs receive}) may block. A stream that makes no
 * progress for that long is a stuck {@code zfs} (a hung pool, zrepl#791): its process is killed,
 * which ends the blocked call, and the caller reports {@link #failure}. Time spent elsewhere (the
 * network, the other side) does not count: only while the call into the pipe blocks. Thread-safe.
 */
final class StallWatch implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(StallWatch.class);

  private final ZfsProcess process;
  private final Duration limit;
  private final String what;
  private final Thread watcher;
  private volatile long blockedSince; // System.nanoTime() of the call in progress; 0 if none
  private volatile boolean fired;

  /**
   * @param what what the process failed to do, e.g. {@code produced no bytes}
   */
  private StallWatch(ZfsProcess process, Duration limit, String what, Runnable onFire) {
    this.process = process;
    this.limit = limit;
    this.what = what;
    long tick = Math.clamp(limit.toMillis() / 4, 10, 5_000);
    this.watcher =
        Thread.ofVirtual()
            .name("zfs-stall-watch")
            .start(
                () -> {
                  try {
                    while (true) {
                      Thread.sleep(tick);
                      long since = blockedSince;
                      if (since != 0 && System.nanoTime() - since > limit.toNanos()) {
                        fired = true;
                        log.warn("{} {} for {}: killing it", process.argv(), what, limit);
                        onFire.run();
                        process.close();
                        return;
                      }
                    }
                  } catch (InterruptedException e) {
                    // closed
                  }
                });
  }

  /**
   * A watch of {@code process}, or {@code null} without a limit; {@code onFire} runs before the
   * kill.
   */
  static @Nullable StallWatch of(
      ZfsProcess process, @Nullable Duration limit, String what, Runnable onFire) {
    return limit == null ? null : new StallWatch(process, limit, what, onFire);
  }

  /** A call into the pipe starts. */
  void enter() {
    long now = System.nanoTime();
    blockedSince = now == 0 ? 1 : now;
  }

  /** The call returned (or failed). */
  void exit() {
    blockedSince = 0;
  }

  /** Whether the limit passed and the process was killed. */
  boolean fired() {
    return fired;
  }

  /** The failure of a stream this watch killed. */
  ZfsException failure(List<String> argv, String stderr) {
    return ZfsException.killedAtLimit(argv, what + " for", limit, stderr);
  }

  @Override
  public void close() {
    watcher.interrupt();
  }
}
