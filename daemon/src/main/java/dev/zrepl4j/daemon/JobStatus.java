package dev.zrepl4j.daemon;

import dev.zrepl4j.replication.VerifyReport;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * What {@code zrepl4j status} shows of one job (JSON over the control socket; times are ISO-8601
 * strings so the JSON reads well).
 *
 * @param name the job's name
 * @param type push, sink, pull, source, snap
 * @param state idle, waiting, snapshotting, replicating, pruning, serving, stopped
 * @param nextRun when the job runs next by itself (null: only on {@code signal wakeup}, or passive)
 * @param runs completed runs since the daemon started
 * @param lastRun the last completed run, if any
 * @param current per-filesystem progress of the replication now running (empty when none)
 * @param lastError the last run's error, if it failed
 * @param warnings what is wrong with how the job is used, standing until the daemon restarts (a
 *     source job pulled by more than one client)
 * @param lag the replication lag per filesystem and the job's lag objective (active jobs that have
 *     run or have an objective; null otherwise)
 * @param verify the job's latest {@code zrepl4j verify} since the daemon started (null: none)
 */
public record JobStatus(
    String name,
    String type,
    String state,
    @Nullable String nextRun,
    long runs,
    @Nullable Run lastRun,
    List<Fs> current,
    @Nullable String lastError,
    List<String> warnings,
    @Nullable Lag lag,
    @Nullable VerifyReport verify) {
  public JobStatus {
    current = List.copyOf(current);
    warnings = warnings == null ? List.of() : List.copyOf(warnings);
  }

  /**
   * How far the receiver is behind, and whether that is acceptable.
   *
   * @param objective the job's {@code zrepl4j_lag_objective} (ISO-8601 duration), null if none
   * @param breached whether the objective is breached (then {@code breaches} says why)
   * @param filesystems per filesystem of the last replication
   * @param breaches why the objective is not met, one message per filesystem; empty if it is met
   *     (or there is none)
   */
  public record Lag(
      @Nullable String objective,
      boolean breached,
      List<FsLag> filesystems,
      List<String> breaches) {
    public Lag {
      filesystems = List.copyOf(filesystems);
      breaches = List.copyOf(breaches);
      if (breached == breaches.isEmpty()) {
        throw new IllegalArgumentException("breached must be true exactly when there are breaches");
      }
    }

    /** A lag report; breached when {@code breaches} is not empty. */
    public static Lag of(
        @Nullable String objective, List<FsLag> filesystems, List<String> breaches) {
      return new Lag(objective, !breaches.isEmpty(), filesystems, breaches);
    }
  }

  /**
   * The replication lag of one filesystem: the age of the newest snapshot that both sender and
   * receiver had at the end of the job's last replication (a snapshot the sender took since then is
   * not on the receiver, so the receiver is at least this far behind the sender's present).
   *
   * @param filesystem in the sender's namespace
   * @param snapshot that snapshot's name (after {@code @}), null if the receiver has none yet
   * @param created its creation time (ISO-8601), null if none
   * @param seconds its age at the time of the status, null if none
   */
  public record FsLag(
      String filesystem,
      @Nullable String snapshot,
      @Nullable String created,
      @Nullable Double seconds) {}

  /**
   * One completed run.
   *
   * @param started ISO-8601
   * @param seconds how long it took
   * @param snapshot the snapshot name taken in this run, if any
   * @param filesystems per-filesystem outcome of the replication (empty for snap jobs)
   * @param pruned snapshots destroyed by pruning (both sides)
   * @param problems failures of snapshotting hooks, pruning or filesystems, as messages
   */
  public record Run(
      String started,
      double seconds,
      @Nullable String snapshot,
      List<Fs> filesystems,
      int pruned,
      List<String> problems) {
    public Run {
      filesystems = List.copyOf(filesystems);
      problems = List.copyOf(problems);
    }

    public boolean ok() {
      return problems.isEmpty();
    }
  }

  /**
   * One filesystem of a replication.
   *
   * @param state PLANNING, STEPPING, UP_TO_DATE, REPLICATED, CONFLICT, FAILED, SKIPPED
   * @param stepsDone steps completed (of a step in progress: the steps before it)
   * @param bytes bytes transferred so far (of a step in progress: of that step's stream)
   * @param message the step in progress, or the outcome's reason
   * @param expectedBytes of a step in progress: the sender's size estimate of its stream, -1 when
   *     there is none (zfs-fuse has no {@code zfs send -nvP}); -1 in a completed run
   * @param stepStarted of a step in progress: when it started (ISO-8601); null in a completed run
   */
  public record Fs(
      String filesystem,
      String state,
      int stepsDone,
      int stepsTotal,
      long bytes,
      String message,
      long expectedBytes,
      @Nullable String stepStarted) {
    /** A filesystem of a completed run (no estimate, no step in progress). */
    public Fs(
        String filesystem,
        String state,
        int stepsDone,
        int stepsTotal,
        long bytes,
        String message) {
      this(filesystem, state, stepsDone, stepsTotal, bytes, message, -1, null);
    }
  }
}
