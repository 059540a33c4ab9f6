package dev.zrepl4j.replication;

import dev.zrepl4j.zfs.ResumeToken;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * Plans the replication of one filesystem from both sides' versions (seed §2.8–2.9, zrepl's
 * planning): in sync, a list of steps, or a conflict reported with both sides' versions. A plan
 * never needs anything on the receiver destroyed or rolled back; the only thing it replaces is a
 * placeholder (by a full receive). Immutable, thread-safe.
 *
 * <p>Implementation notes: the receiver's bookmarks are ignored, because {@code zfs recv} needs
 * only its newest snapshot to be the stream's base; counting them would turn a lone bookmark into a
 * bogus divergence (zrepl#558). A receive resume token is decoded and, if its base is the
 * receiver's newest snapshot (or none, for a full stream) and its target still exists on the
 * sender, becomes a {@link Step.Resume} first step, after which planning goes on from its target; a
 * token that does not fit is reported, never silently discarded.
 */
public final class Planner {

  private final InitialPolicy initialPolicy;
  private final boolean batchIntermediates;

  /**
   * @param initialPolicy what to send when the receiver lacks the filesystem
   * @param batchIntermediates send consecutive incremental snapshots as one {@code -I} step
   */
  public Planner(InitialPolicy initialPolicy, boolean batchIntermediates) {
    this.initialPolicy = initialPolicy;
    this.batchIntermediates = batchIntermediates;
  }

  /**
   * Plans one filesystem.
   *
   * @param filesystem in the sender's namespace (for reports)
   * @param sender the sender's versions, ordered by createtxg
   * @param receiver the receiver's view of the filesystem, or null if it does not have it
   * @param receiverVersions the receiver's versions (ignored if {@code receiver} is null or a
   *     placeholder)
   * @throws IllegalArgumentException if a version list is not ordered by createtxg
   */
  public FsPlan plan(
      String filesystem,
      List<FsVersion> sender,
      @Nullable FsInfo receiver,
      List<FsVersion> receiverVersions) {
    List<FsVersion> left =
        receiver == null || receiver.placeholder()
            ? null
            : receiverVersions.stream().filter(FsVersion::isSnapshot).toList();
    if (receiver != null && !receiver.resumeToken().isEmpty()) {
      return planResume(filesystem, sender, left, receiver.resumeToken());
    }
    return planFrom(filesystem, sender, left);
  }

  private FsPlan planFrom(String fs, List<FsVersion> sender, @Nullable List<FsVersion> left) {
    var diff = Diff.of(left, sender);
    return switch (diff.conflict()) {
      case ALL_RIGHT -> initial(fs, sender);
      case INCREMENTAL -> {
        var path = diff.incrementalPath();
        if (path.size() < 2) {
          yield new FsPlan.UpToDate("in sync at " + path.getFirst(), path.getFirst());
        }
        yield new FsPlan.Steps(incremental(path));
      }
      case NO_COMMON_ANCESTOR -> {
        var l = diff.mrcaPathLeft();
        yield new FsPlan.Conflict(
            FsPlan.Conflict.Kind.NO_COMMON_ANCESTOR,
            l.isEmpty()
                ? "the receiver has filesystem "
                    + fs
                    + " without any snapshot, so a full receive would overwrite it; sender has "
                    + names(diff.mrcaPathRight())
                    + ". Nothing was destroyed: destroy or rename the receiver's filesystem to"
                    + " replicate it"
                : "no common snapshot (by guid) for "
                    + fs
                    + ": receiver has "
                    + names(l)
                    + ", sender has "
                    + names(diff.mrcaPathRight())
                    + ". Nothing was destroyed: destroy or rename the receiver's filesystem to"
                    + " replicate it again from scratch");
      }
      case DIVERGED -> {
        var l = diff.mrcaPathLeft();
        var r = diff.mrcaPathRight();
        var common = l.getFirst();
        var receiverAfter = l.subList(1, l.size());
        var senderAfter = r.subList(1, r.size()).stream().filter(FsVersion::isSnapshot).toList();
        String what =
            senderAfter.isEmpty()
                ? "the receiver has snapshots newer than the sender's newest: "
                    + names(receiverAfter)
                    + " after the common snapshot "
                    + common
                : "diverged after the common snapshot "
                    + common
                    + ": receiver has "
                    + names(receiverAfter)
                    + ", sender has "
                    + names(senderAfter);
        yield new FsPlan.Conflict(
            FsPlan.Conflict.Kind.DIVERGED,
            fs
                + ": "
                + what
                + ". Nothing was destroyed: roll the receiver back to "
                + common
                + " (zfs rollback -r) to replicate again");
      }
    };
  }

  private FsPlan initial(String fs, List<FsVersion> sender) {
    var snapshots = sender.stream().filter(FsVersion::isSnapshot).toList();
    if (snapshots.isEmpty()) {
      return new FsPlan.UpToDate("the sender has no snapshot of " + fs + " yet", null);
    }
    return switch (initialPolicy) {
      case MOST_RECENT -> new FsPlan.Steps(List.of(new Step.Full(snapshots.getLast())));
      case ALL -> {
        var steps = new ArrayList<Step>();
        steps.add(new Step.Full(snapshots.getFirst()));
        steps.addAll(incremental(snapshots));
        yield new FsPlan.Steps(steps);
      }
      case FAIL ->
          new FsPlan.Conflict(
              FsPlan.Conflict.Kind.INITIAL_REPLICATION_REFUSED,
              "the receiver does not have "
                  + fs
                  + " and the initial replication policy is 'fail'; sender has "
                  + names(snapshots));
    };
  }

  /** Steps along {@code path} (base first; everything after it is a snapshot). */
  private List<Step> incremental(List<FsVersion> path) {
    var steps = new ArrayList<Step>();
    int i = 0;
    if (batchIntermediates && path.size() > 2 && !path.getFirst().isSnapshot()) {
      // -I from a bookmark is not supported by every ZFS: one -i step to the first snapshot.
      steps.add(new Step.Incremental(path.get(0), path.get(1), false));
      i = 1;
    }
    if (batchIntermediates && path.size() - i > 2) {
      steps.add(new Step.Incremental(path.get(i), path.getLast(), true));
      return steps;
    }
    for (; i + 1 < path.size(); i++) {
      steps.add(new Step.Incremental(path.get(i), path.get(i + 1), false));
    }
    return steps;
  }

  private FsPlan planResume(
      String fs, List<FsVersion> sender, @Nullable List<FsVersion> left, String token) {
    ResumeToken t;
    try {
      t = ResumeToken.decode(token);
    } catch (IllegalArgumentException e) {
      return partial(fs, "its resume token cannot be decoded (" + e.getMessage() + ")");
    }
    FsVersion base = left == null || left.isEmpty() ? null : left.getLast();
    boolean fits = t.incremental() ? base != null && base.guid() == t.fromGuid() : base == null;
    if (!fits) {
      return partial(
          fs,
          "the partial receive of "
              + t.toName()
              + (t.incremental()
                  ? " (incremental from guid " + Long.toUnsignedString(t.fromGuid()) + ")"
                  : " (full)")
              + " does not continue from the receiver's newest snapshot "
              + (base == null ? "(none)" : base));
    }
    Optional<FsVersion> to =
        sender.stream().filter(v -> v.isSnapshot() && v.guid() == t.toGuid()).findFirst();
    if (to.isEmpty()) {
      return partial(
          fs,
          "the sender no longer has "
              + t.toName()
              + " (guid "
              + Long.toUnsignedString(t.toGuid())
              + ") that the partial receive was receiving");
    }
    FsVersion from = null;
    if (base != null) {
      from =
          sender.stream()
              .filter(v -> v.guid() == t.fromGuid())
              .min((a, b) -> Boolean.compare(b.isSnapshot(), a.isSnapshot()))
              .orElse(base);
    }
    var steps = new ArrayList<Step>();
    steps.add(new Step.Resume(token, from, to.get()));
    // After the resume the receiver's newest snapshot is `to` (txgs of the two pools don't mix).
    switch (planFrom(fs, sender, List.of(to.get()))) {
      case FsPlan.Steps s -> steps.addAll(s.steps());
      case FsPlan.UpToDate u -> {}
      case FsPlan.Conflict c -> {
        return c;
      }
    }
    return new FsPlan.Steps(steps);
  }

  private static FsPlan.Conflict partial(String fs, String why) {
    return new FsPlan.Conflict(
        FsPlan.Conflict.Kind.PARTIAL_RECEIVE,
        "the receiver has a partial receive of "
            + fs
            + " that cannot be resumed: "
            + why
            + ". It was kept: abort it with 'zfs receive -A' on the receiver to replicate again");
  }

  private static String names(List<FsVersion> versions) {
    return versions.stream().map(FsVersion::toString).collect(Collectors.joining(", ", "[", "]"));
  }
}
