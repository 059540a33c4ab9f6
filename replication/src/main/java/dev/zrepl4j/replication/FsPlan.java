package dev.zrepl4j.replication;

import java.util.List;
import org.jspecify.annotations.Nullable;

/** What the planner decided for one filesystem. */
public sealed interface FsPlan permits FsPlan.UpToDate, FsPlan.Steps, FsPlan.Conflict {

  /**
   * Nothing to send.
   *
   * @param reason e.g. "in sync at @x"
   * @param common the sender's version that both sides have, the newest such (a snapshot where the
   *     sender still has one); null if the sender has no snapshot yet
   */
  record UpToDate(String reason, @Nullable FsVersion common) implements FsPlan {}

  /**
   * Steps to run in order; each starts where the previous one ended.
   *
   * @param steps at least one
   */
  record Steps(List<Step> steps) implements FsPlan {
    public Steps {
      steps = List.copyOf(steps);
      if (steps.isEmpty()) {
        throw new IllegalArgumentException("no steps");
      }
    }
  }

  /**
   * The sides cannot be brought together without someone deciding what to give up; nothing was
   * destroyed.
   *
   * @param kind the kind of conflict
   * @param report what each side has and what to do, for the operator
   */
  record Conflict(Kind kind, String report) implements FsPlan {
    /** Kinds of conflict. */
    public enum Kind {
      /** The receiver has the filesystem but no snapshot in common with the sender. */
      NO_COMMON_ANCESTOR,
      /** The receiver has versions after the newest common snapshot. */
      DIVERGED,
      /** The receiver lacks the filesystem and the initial policy is {@code fail}. */
      INITIAL_REPLICATION_REFUSED,
      /** The receiver holds a partial receive that does not fit the sender's versions. */
      PARTIAL_RECEIVE,
      /**
       * The receiver lacks the filesystem but has its snapshots (by guid) under another name, one
       * the sender no longer has: it was renamed or moved on the sender. Not sent in full again.
       */
      RENAMED
    }
  }
}
