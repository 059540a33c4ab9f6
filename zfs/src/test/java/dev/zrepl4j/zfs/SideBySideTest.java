package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/** Cutting a long command's arguments into parts, and running the parts side by side. */
class SideBySideTest {

  @Property
  void partsKeepEveryItemInOrderWithinTheirSizes(
      @ForAll @IntRange(min = 0, max = 5000) int n,
      @ForAll @IntRange(min = 1, max = 64) int min,
      @ForAll @IntRange(min = 1, max = 600) int max) {
    var items = IntStream.range(0, n).boxed().toList();
    var parts = SideBySide.parts(items, min, max);
    assertThat(parts.stream().flatMap(List::stream).toList()).isEqualTo(items);
    if (n == 0) {
      assertThat(parts).isEmpty();
      return;
    }
    assertThat(parts).allSatisfy(p -> assertThat(p).isNotEmpty().hasSizeLessThanOrEqualTo(max));
    int sizes = parts.stream().mapToInt(List::size).max().orElseThrow();
    assertThat(sizes - parts.stream().mapToInt(List::size).min().orElseThrow())
        .isLessThanOrEqualTo(1);
    int needed = (n + max - 1) / max;
    // more parts than PARALLEL only where the largest size forces them; never one below min
    // unless there is only one
    assertThat(parts.size()).isEqualTo(Math.max(needed, Math.max(1, Math.min(4, n / min))));
    if (parts.size() > needed && parts.size() > 1) {
      assertThat(parts).allSatisfy(p -> assertThat(p.size()).isGreaterThanOrEqualTo(min));
    }
  }

  @Test
  void refusesPartSizesBelowOne() {
    assertThatThrownBy(() -> SideBySide.parts(List.of(1), 0, 5))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> SideBySide.parts(List.of(1), 1, 0))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void partsRunAtMostFourAtOnceAndTheirResultsComeInOrder() throws IOException {
    var running = new AtomicInteger();
    var most = new AtomicInteger();
    var threads = ConcurrentHashMap.<String>newKeySet();
    var parts = SideBySide.parts(IntStream.range(0, 10_000).boxed().toList(), 1, 1000);
    assertThat(parts).hasSize(10);
    var sums =
        SideBySide.run(
            parts,
            p -> {
              most.accumulateAndGet(running.incrementAndGet(), Math::max);
              threads.add(Thread.currentThread().toString());
              try {
                Thread.sleep(30);
              } catch (InterruptedException e) {
                throw new InterruptedIOException();
              } finally {
                running.decrementAndGet();
              }
              return p.getFirst();
            });
    assertThat(sums).containsExactly(0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000);
    assertThat(most.get()).isBetween(2, SideBySide.PARALLEL);
    assertThat(threads).hasSizeGreaterThan(1);
  }

  @Test
  void aSinglePartRunsOnTheCallersThread() throws IOException {
    var caller = Thread.currentThread();
    var ran = SideBySide.run(List.of(List.of(1, 2)), p -> Thread.currentThread() == caller);
    assertThat(ran).containsExactly(true);
  }

  @Test
  void theFirstFailureIsThrownAfterTheOtherPartsEndedWithTheRestSuppressed() {
    var ended = new AtomicInteger();
    var parts = List.of(List.of(0), List.of(1), List.of(2), List.of(3));
    assertThatThrownBy(
            () ->
                SideBySide.run(
                    parts,
                    p -> {
                      int i = p.getFirst();
                      if (i == 1 || i == 3) {
                        throw new IOException("part " + i + " failed");
                      }
                      try {
                        Thread.sleep(100);
                      } catch (InterruptedException e) {
                        throw new InterruptedIOException();
                      }
                      ended.incrementAndGet();
                      return i;
                    }))
        .isInstanceOf(IOException.class)
        .hasMessage("part 1 failed")
        .satisfies(e -> assertThat(e.getSuppressed()).hasSize(1));
    assertThat(ended.get()).isEqualTo(2); // the two that did not fail ran to their end
  }

  @Test
  void interruptedItStopsEveryPartWaitsForThemAndKeepsTheInterrupt() throws Exception {
    var started = new CountDownLatch(3);
    var stillRunning = new AtomicInteger();
    var outcome = new AtomicReference<Throwable>();
    var interruptKept = new AtomicReference<Boolean>();
    var caller =
        Thread.ofPlatform()
            .start(
                () -> {
                  try {
                    SideBySide.run(
                        List.of(List.of(0), List.of(1), List.of(2)),
                        p -> {
                          stillRunning.incrementAndGet();
                          started.countDown();
                          try {
                            Thread.sleep(60_000);
                          } catch (InterruptedException e) {
                            throw new InterruptedIOException("part stopped");
                          } finally {
                            stillRunning.decrementAndGet();
                          }
                          return p;
                        });
                  } catch (Throwable t) {
                    outcome.set(t);
                  }
                  interruptKept.set(Thread.currentThread().isInterrupted());
                });
    assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
    caller.interrupt();
    caller.join(10_000);
    assertThat(caller.isAlive()).isFalse();
    assertThat(outcome.get()).isInstanceOf(InterruptedIOException.class);
    assertThat(interruptKept.get()).isTrue();
    assertThat(stillRunning.get()).isZero(); // none outlived the call
  }

  @Test
  void anUncheckedFailureIsThrownAsItIs() {
    var parts = new ArrayList<List<Integer>>();
    parts.add(List.of(1));
    parts.add(List.of(2));
    assertThatThrownBy(
            () ->
                SideBySide.run(
                    parts,
                    p -> {
                      if (p.getFirst() == 2) {
                        throw new IllegalStateException("bad part");
                      }
                      return p;
                    }))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("bad part");
  }
}
