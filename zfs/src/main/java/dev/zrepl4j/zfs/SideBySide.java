package dev.zrepl4j.zfs;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import org.jspecify.annotations.Nullable;

/**
 * One long {@code zfs} command (a listing of many filesystems, a hold on many snapshots) as a few
 * commands over parts of its arguments, run side by side.
 *
 * <p>Why: the {@code zfs} tool does one ioctl per snapshot it holds, releases or lists (zfs-fuse
 * answers each through its socket, OpenZFS's kernel one by one too), and a hold or release waits
 * for its transaction group. One command per tag over 200 snapshots took 0.85 s on zfs-fuse; four
 * commands of 50 side by side took 0.40–0.45 s, their holds sharing transaction groups; a listing
 * of the versions of 101 filesystems took 1.8–2.1 s in one command and 1.2–1.4 s in four (issue 17,
 * measured on this project's 2-core machine, docs/PERFORMANCE.md). The count of commands stays
 * independent of the number of filesystems: at most {@link #PARALLEL} per listing or tag, more only
 * where a part would exceed its largest size.
 */
public final class SideBySide {
  private SideBySide() {}

  /** The most commands of one listing or tag that run at once. */
  public static final int PARALLEL = 4;

  /** One command over one part of the arguments. */
  @FunctionalInterface
  public interface Part<T, R> {
    R run(List<T> part) throws IOException;
  }

  /**
   * {@code items} cut into consecutive parts, in order: as many as {@link #PARALLEL} where each
   * keeps at least {@code minPart} items, and more where a part would exceed {@code maxPart}. An
   * empty list has no part.
   *
   * @throws IllegalArgumentException if {@code minPart} or {@code maxPart} is below 1
   */
  public static <T> List<List<T>> parts(List<T> items, int minPart, int maxPart) {
    if (minPart < 1 || maxPart < 1) {
      throw new IllegalArgumentException(
          "part sizes must be positive: " + minPart + ", " + maxPart);
    }
    int n = items.size();
    if (n == 0) {
      return List.of();
    }
    int count = Math.max(1, Math.min(PARALLEL, n / minPart));
    count = Math.max(count, (n + maxPart - 1) / maxPart);
    var out = new ArrayList<List<T>>(count);
    int from = 0;
    for (int i = 0; i < count; i++) {
      // the first n % count parts one longer: sizes differ by at most one
      int to = from + n / count + (i < n % count ? 1 : 0);
      out.add(List.copyOf(items.subList(from, to)));
      from = to;
    }
    return out;
  }

  /**
   * Runs {@code part} over each of {@code parts}, {@link #PARALLEL} at a time (a single part on the
   * calling thread), and returns their results in the parts' order. The parts running when one
   * fails run to their end, those not started yet are not started; the first failure is thrown, the
   * others added to it as suppressed. Interrupted, it interrupts the parts (a running zfs command
   * is killed), waits for them and throws {@link InterruptedIOException} with the interrupt kept.
   */
  public static <T, R> List<R> run(List<List<T>> parts, Part<T, R> part) throws IOException {
    if (parts.size() == 1) {
      return List.of(part.run(parts.getFirst()));
    }
    var results = new ArrayList<R>(parts.size());
    for (int wave = 0; wave < parts.size(); wave += PARALLEL) {
      var tasks = new ArrayList<FutureTask<R>>();
      var threads = new ArrayList<Thread>();
      for (var p : parts.subList(wave, Math.min(parts.size(), wave + PARALLEL))) {
        var t = new FutureTask<>(() -> part.run(p));
        threads.add(Thread.ofVirtual().name("zfs-part").start(t));
        tasks.add(t);
      }
      results.addAll(joinAll(tasks, threads));
    }
    return results;
  }

  private static <R> List<R> joinAll(List<FutureTask<R>> tasks, List<Thread> threads)
      throws IOException {
    var out = new ArrayList<R>(tasks.size());
    @Nullable Throwable failure = null;
    boolean interrupted = false;
    for (var t : tasks) {
      while (true) {
        try {
          out.add(t.get());
          break;
        } catch (InterruptedException e) {
          // stop them all, then wait for them to end: none outlives this call
          interrupted = true;
          tasks.forEach(x -> x.cancel(true));
        } catch (CancellationException e) {
          failure = add(failure, new InterruptedIOException("zfs command part cancelled"));
          break;
        } catch (ExecutionException e) {
          failure = add(failure, e.getCause() == null ? e : e.getCause());
          break;
        }
      }
    }
    if (interrupted) {
      // a cancelled task's get() returns at once, its thread may still be ending (its command is
      // killed by the interrupt): wait for them, so that none outlives this call
      for (var t : threads) {
        joinUninterruptibly(t);
      }
      Thread.currentThread().interrupt();
      var io = new InterruptedIOException("interrupted waiting for zfs commands side by side");
      if (failure != null) {
        io.addSuppressed(failure);
      }
      throw io;
    }
    if (failure != null) {
      switch (failure) {
        case IOException io -> throw io;
        case RuntimeException r -> throw r;
        case Error err -> throw err;
        default -> throw new IOException(failure);
      }
    }
    return out;
  }

  private static void joinUninterruptibly(Thread t) {
    while (true) {
      try {
        t.join();
        return;
      } catch (InterruptedException e) {
        // kept: the caller sets the interrupt again
      }
    }
  }

  private static Throwable add(@Nullable Throwable first, Throwable next) {
    if (first == null) {
      return next;
    }
    if (first != next) {
      first.addSuppressed(next);
    }
    return first;
  }
}
