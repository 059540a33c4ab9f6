package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class BesideTest {
  @Test
  void runsBesideTheCallerAndJoinWaitsForIt() throws Exception {
    var started = new CountDownLatch(1);
    var release = new CountDownLatch(1);
    var done = new AtomicBoolean();
    var b =
        Beside.start(
            "t",
            () -> {
              started.countDown();
              try {
                release.await();
              } catch (InterruptedException e) {
                throw new InterruptedIOException();
              }
              done.set(true);
            });
    // running while the caller goes on
    assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(done).isFalse();
    release.countDown();
    b.join();
    assertThat(done).isTrue();
  }

  @Test
  void joinRethrowsTheActionsFailureAsItIs() {
    var io = new IOException("cannot hold");
    var b =
        Beside.start(
            "t",
            () -> {
              throw io;
            });
    assertThatThrownBy(b::join).isSameAs(io);
    var rt = new IllegalStateException("bug");
    var r =
        Beside.start(
            "t",
            () -> {
              throw rt;
            });
    assertThatThrownBy(r::join).isSameAs(rt);
  }

  @Test
  void joinAfterTheCallersFailureKeepsTheActionsAsSuppressed() {
    var io = new IOException("cannot release");
    var b =
        Beside.start(
            "t",
            () -> {
              throw io;
            });
    var mine = new IOException("listing failed");
    b.joinAfter(mine);
    assertThat(mine.getSuppressed()).containsExactly(io);

    var ok = Beside.start("t", () -> {});
    var other = new IOException("x");
    ok.joinAfter(other);
    assertThat(other.getSuppressed()).isEmpty();
  }

  @Test
  void noneIsDoneAtOnce() throws Exception {
    var b = Beside.none();
    assertThat(b.join()).isTrue();
    assertThat(b.succeeded()).isTrue();
  }

  @Test
  void succeededTellsWithoutThrowing() {
    assertThat(Beside.start("t", () -> {}).succeeded()).isTrue();
    assertThat(
            Beside.start(
                    "t",
                    () -> {
                      throw new IOException("no");
                    })
                .succeeded())
        .isFalse();
  }

  @Test
  void anInterruptedJoinInterruptsTheActionAndSaysSo() throws Exception {
    var started = new CountDownLatch(1);
    var interrupted = new CountDownLatch(1);
    var b = sleeping(started, interrupted::countDown);
    assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
    Thread.currentThread().interrupt();
    try {
      assertThatThrownBy(b::join).isInstanceOf(InterruptedIOException.class);
      assertThat(Thread.currentThread().isInterrupted()).isTrue();
    } finally {
      Thread.interrupted();
    }
    assertThat(interrupted.await(10, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void joinUninterruptiblyWaitsForTheWorkThroughAnInterruptAndKeepsIt() throws Exception {
    var release = new CountDownLatch(1);
    var interruptedInside = new AtomicBoolean();
    var b =
        Beside.call(
            "t",
            () -> {
              try {
                release.await();
              } catch (InterruptedException e) {
                interruptedInside.set(true);
              }
              return "done";
            });
    var releaser =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    Thread.sleep(200);
                  } catch (InterruptedException e) {
                    // released below anyway
                  }
                  release.countDown();
                });
    Thread.currentThread().interrupt();
    try {
      assertThat(b.joinUninterruptibly()).isEqualTo("done");
      assertThat(Thread.currentThread().isInterrupted()).isTrue();
    } finally {
      Thread.interrupted();
      releaser.join();
    }
    assertThat(interruptedInside).isFalse(); // the work was not cut short
  }

  @Test
  void aCancelledCallFailsItsJoin() throws Exception {
    var started = new CountDownLatch(1);
    var b =
        sleeping(
            started,
            () -> {
              throw new InterruptedIOException("killed");
            });
    assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
    b.cancel();
    assertThatThrownBy(b::join).isInstanceOf(InterruptedIOException.class);
    assertThat(Beside.call("t", () -> 42).join()).isEqualTo(42);
  }

  /** Work that says it started, then sleeps a minute; interrupted, it runs {@code onInterrupt}. */
  private static Beside<Boolean> sleeping(CountDownLatch started, Beside.Action onInterrupt) {
    return Beside.start(
        "t",
        () -> {
          started.countDown();
          try {
            Thread.sleep(60_000);
          } catch (InterruptedException e) {
            onInterrupt.run();
          }
        });
  }
}
