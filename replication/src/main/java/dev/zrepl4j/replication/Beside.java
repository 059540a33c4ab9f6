package dev.zrepl4j.replication;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * A zfs command run on a virtual thread beside the caller's next one, where neither needs the
 * other's outcome: each is a process start and a round trip to the kernel (or zfs-fuse) of a few
 * milliseconds, and a step has a dozen of them in a row. Whoever starts one joins it before
 * returning, so no command outlives the call that started it.
 */
final class Beside {
  /** A zfs command (or a few in a row). */
  @FunctionalInterface
  interface Action {
    void run() throws IOException;
  }

  private final FutureTask<Void> task;

  private Beside(Action action) {
    this.task =
        new FutureTask<>(
            () -> {
              action.run();
              return null;
            });
  }

  /** Starts {@code action} now. */
  static Beside start(String name, Action action) {
    var b = new Beside(action);
    Thread.ofVirtual().name(name).start(b.task);
    return b;
  }

  /**
   * Waits for the action to end; rethrows its failure. Interrupted, it interrupts the action (a
   * running zfs command is killed) and throws {@link InterruptedIOException}.
   */
  void join() throws IOException {
    try {
      task.get();
    } catch (InterruptedException e) {
      task.cancel(true);
      Thread.currentThread().interrupt();
      var io = new InterruptedIOException("interrupted waiting for a zfs command");
      io.initCause(e);
      throw io;
    } catch (CancellationException e) {
      throw new InterruptedIOException("zfs command cancelled");
    } catch (ExecutionException e) {
      var cause = e.getCause();
      switch (cause) {
        case IOException io -> throw io;
        case RuntimeException r -> throw r;
        case Error err -> throw err;
        case null, default -> throw new IOException(cause);
      }
    }
  }

  /**
   * Waits for the action to end after the caller's own work failed with {@code failure} (which the
   * caller then throws): the action's failure, if any, is added to it as suppressed.
   */
  void joinAfter(Throwable failure) {
    try {
      join();
    } catch (IOException | RuntimeException e) {
      failure.addSuppressed(e);
    }
  }

  /** Waits for the action to end; whether it succeeded (its failure is dropped). */
  boolean succeeded() {
    try {
      join();
      return true;
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }
}
