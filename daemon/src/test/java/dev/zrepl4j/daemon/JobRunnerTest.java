package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/** The job loop: schedule, wakeup, reset, failures, stop. */
class JobRunnerTest {

  /** A job whose runs are scripted by the test. */
  static final class Scripted extends JobRunner {
    final LinkedBlockingQueue<Boolean> started = new LinkedBlockingQueue<>();
    final AtomicInteger aborts = new AtomicInteger();
    volatile @Nullable Duration every;
    volatile boolean fail;
    volatile @Nullable CountDownLatch block;

    Scripted(@Nullable Duration every) {
      super("j", "push", Clock.systemUTC());
      this.every = every;
    }

    @Override
    protected Optional<Instant> nextRun(@Nullable Instant lastEnd) {
      var e = every;
      if (e == null) {
        return Optional.empty();
      }
      return Optional.of(lastEnd == null ? clock.instant() : lastEnd.plus(e));
    }

    @Override
    protected JobStatus.Run run(boolean woken) throws Exception {
      started.add(woken);
      var b = block;
      if (b != null) {
        b.await();
      }
      if (fail) {
        throw new java.io.IOException("zfs exploded");
      }
      return new JobStatus.Run(clock.instant().toString(), 0, null, List.of(), 0, List.of());
    }

    @Override
    protected void abortRun() {
      aborts.incrementAndGet();
      var b = block;
      if (b != null) {
        b.countDown();
      }
    }
  }

  @Test
  void manualJobRunsOnlyOnWakeup() throws Exception {
    try (var j = new Scripted(null)) {
      j.start();
      assertThat(j.started.poll(300, TimeUnit.MILLISECONDS)).isNull();
      assertThat(j.status().nextRun()).isNull();
      j.wakeup();
      assertThat(j.started.poll(5, TimeUnit.SECONDS)).isTrue();
      awaitRuns(j, 1);
      assertThat(j.status().lastError()).isNull();
    }
  }

  @Test
  void scheduledJobRunsAtStartThenAfterItsInterval() throws Exception {
    try (var j = new Scripted(Duration.ofMillis(200))) {
      j.start();
      assertThat(j.started.poll(5, TimeUnit.SECONDS)).isFalse();
      assertThat(j.started.poll(5, TimeUnit.SECONDS)).isFalse();
      awaitRuns(j, 2);
    }
  }

  @Test
  void aFailedRunIsRecordedAndTheJobGoesOn() throws Exception {
    try (var j = new Scripted(null)) {
      j.fail = true;
      j.start();
      j.wakeup();
      awaitRuns(j, 1);
      assertThat(j.status().lastError()).contains("zfs exploded");
      assertThat(j.status().lastRun().ok()).isFalse();
      j.fail = false;
      j.wakeup();
      awaitRuns(j, 2);
      assertThat(j.status().lastError()).isNull();
    }
  }

  @Test
  void resetAbortsTheRunningRun() throws Exception {
    try (var j = new Scripted(null)) {
      j.block = new CountDownLatch(1);
      j.fail = true; // an aborted run ends with an error (its connections were closed)
      j.start();
      j.wakeup();
      assertThat(j.started.poll(5, TimeUnit.SECONDS)).isTrue();
      j.reset();
      awaitRuns(j, 1);
      assertThat(j.aborts.get()).isEqualTo(1);
      assertThat(j.status().lastError()).startsWith("run aborted by signal reset");
    }
  }

  @Test
  void stopEndsTheThreadEvenDuringARun() throws Exception {
    var j = new Scripted(null);
    j.block = new CountDownLatch(1);
    j.start();
    j.wakeup();
    assertThat(j.started.poll(5, TimeUnit.SECONDS)).isTrue();
    j.stop(Duration.ofSeconds(5));
    assertThat(j.status().state()).isEqualTo("stopped");
  }

  /**
   * A wakeup during a run is served by the run after it, and says so: {@code signal wakeup --wait}
   * must wait for that run, not report the one in progress (which began before the signal).
   */
  @Test
  void aWakeupNamesTheRunThatServesIt() throws Exception {
    try (var j = new Scripted(null)) {
      var first = new CountDownLatch(1);
      j.block = first;
      j.start();
      assertThat(j.result(1).state()).isEqualTo("pending");
      long one = j.wakeup();
      assertThat(one).isEqualTo(1);
      assertThat(j.started.poll(5, TimeUnit.SECONDS)).isTrue();
      assertThat(j.result(1).state()).isEqualTo("running");
      // run 1 is in progress: this wakeup is served by run 2, which fails
      long two = j.wakeup();
      assertThat(two).isEqualTo(2);
      assertThat(j.result(2).state()).isEqualTo("pending");
      var second = new CountDownLatch(1);
      j.block = second;
      first.countDown();
      assertThat(j.started.poll(5, TimeUnit.SECONDS)).isTrue();
      assertThat(j.result(1).state()).isEqualTo("done");
      assertThat(j.result(1).result().ok()).isTrue();
      assertThat(j.result(2).state()).isEqualTo("running");
      j.fail = true;
      second.countDown();
      awaitRuns(j, 2);
      var r2 = j.result(2);
      assertThat(r2.state()).isEqualTo("done");
      assertThat(r2.result().ok()).isFalse();
      assertThat(r2.result().problems()).singleElement().asString().contains("zfs exploded");
      // the first run's outcome is still its own
      assertThat(j.result(1).result().ok()).isTrue();
      assertThat(j.result(3).state()).isEqualTo("pending");
    }
  }

  static void awaitRuns(JobRunner j, long n) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (j.status().runs() < n) {
      assertThat(System.nanoTime()).as("runs: %s", j.status()).isLessThan(deadline);
      Thread.sleep(20);
    }
  }
}
