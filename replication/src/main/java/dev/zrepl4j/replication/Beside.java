package dev.zrepl4j.replication;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * Work run on a virtual thread beside the caller's next step, where neither needs the other's
 * outcome: a zfs command (each is a process start and a round trip to the kernel, or zfs-fuse, of a
 * few milliseconds, and a step has a dozen of them in a row) or one side's listing next to the
 * other's. Whoever starts one joins or cancels it before returning, so none outlives the call that
 * started it.
 *
 * @param <T> what the work gives
 */
final class Beside<T> {
  /** Work without a result (a zfs command, or a few in a row). */
  @FunctionalInterface
  interface Action {
    void run() throws IOException;
  }

  /** Work with a result. */
  @FunctionalInterface
  interface Call<T> {
    T call() throws IOException;
  }

  private static final String WHAT = "work beside this one";

  private final FutureTask<T> task;

  private Beside(Call<T> work) {
    this.task = new FutureTask<>(work::call);
  }

  /** Starts {@code work} now, on a virtual thread named {@code name}. */
  static <T> Beside<T> call(String name, Call<T> work) {
    var b = new Beside<>(work);
    Thread.ofVirtual().name(name).start(b.task);
    return b;
  }

  /** Nothing to run: joins at once, successfully (for work that only some cases have). */
  static Beside<Boolean> none() {
    var b = new Beside<Boolean>(() -> true);
    b.task.run();
    return b;
  }

  /** Starts {@code action} now, on a virtual thread named {@code name}. */
  static Beside<Boolean> start(String name, Action action) {
    return call(
        name,
        () -> {
          action.run();
          return true;
        });
  }

  /**
   * Waits for the work to end; its result, or its failure rethrown as it was raised. Interrupted,
   * it interrupts the work (a running zfs command is killed) and throws {@link
   * InterruptedIOException}.
   */
  T join() throws IOException {
    try {
      return task.get();
    } catch (InterruptedException e) {
      task.cancel(true);
      Thread.currentThread().interrupt();
      var io = new InterruptedIOException("interrupted waiting for " + WHAT);
      io.initCause(e);
      throw io;
    } catch (CancellationException e) {
      throw new InterruptedIOException(WHAT + " cancelled");
    } catch (ExecutionException e) {
      return rethrow(e);
    }
  }

  /**
   * Waits for the work to end, even when this thread is interrupted meanwhile (the interrupt is
   * kept for later): work that must not be cut short, like a sender's bookkeeping after a receive.
   */
  T joinUninterruptibly() throws IOException {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          return task.get();
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (ExecutionException e) {
          return rethrow(e);
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** Interrupts the work (a running zfs command is killed); a later join fails. */
  void cancel() {
    task.cancel(true);
  }

  /**
   * Waits for the work to end after the caller's own failed with {@code failure} (which the caller
   * then throws): the work's failure, if any, is added to it as suppressed.
   */
  void joinAfter(Throwable failure) {
    try {
      join();
    } catch (IOException | RuntimeException e) {
      failure.addSuppressed(e);
    }
  }

  /** Waits for the work to end; whether it succeeded (its failure is dropped). */
  boolean succeeded() {
    try {
      join();
      return true;
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /** Throws a task's failure as it was raised. */
  static <T> T rethrow(ExecutionException e) throws IOException {
    var cause = e.getCause();
    switch (cause) {
      case IOException io -> throw io;
      case RuntimeException r -> throw r;
      case Error err -> throw err;
      case null, default -> throw new IOException(cause);
    }
  }
}
