package dev.zrepl4j.replication;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The seed's {@code MakeFilesystemDiff} (seed §2.8): compares a receiver's and a sender's versions
 * of one filesystem by GUID.
 *
 * @param conflict what kind of difference it is
 * @param incrementalPath for {@link Conflict#INCREMENTAL}: the most recent common ancestor followed
 *     by every later sender snapshot (length 1 = in sync); empty otherwise
 * @param mrcaPathLeft the receiver's versions from the common ancestor on (diverged), or all of
 *     them (no common ancestor); empty otherwise
 * @param mrcaPathRight the sender's versions from the common ancestor on, or all of them
 */
public record Diff(
    Conflict conflict,
    List<FsVersion> incrementalPath,
    List<FsVersion> mrcaPathLeft,
    List<FsVersion> mrcaPathRight) {

  /** The seed's conflict kinds, with its numbers. */
  public enum Conflict {
    /** Incremental replication is possible (or the sides are in sync). */
    INCREMENTAL,
    /** The receiver has no such filesystem (or only a placeholder): everything is new. */
    ALL_RIGHT,
    /** The receiver has the filesystem, but no version in common with the sender. */
    NO_COMMON_ANCESTOR,
    /** The common ancestor is not the receiver's newest version. */
    DIVERGED;

    /** The seed's name, e.g. {@code ConflictIncremental}. */
    String seedName() {
      return switch (this) {
        case INCREMENTAL -> "ConflictIncremental";
        case ALL_RIGHT -> "ConflictAllRight";
        case NO_COMMON_ANCESTOR -> "ConflictNoCommonAncestor";
        case DIVERGED -> "ConflictDiverged";
      };
    }
  }

  public Diff {
    incrementalPath = List.copyOf(incrementalPath);
    mrcaPathLeft = List.copyOf(mrcaPathLeft);
    mrcaPathRight = List.copyOf(mrcaPathRight);
  }

  /**
   * Diffs {@code left} (the receiver) against {@code right} (the sender), both ordered by
   * createtxg.
   *
   * @param left the receiver's versions, or null if it has no such filesystem or only a placeholder
   *     (an empty list means the filesystem exists without versions)
   * @throws IllegalArgumentException if a list is not ordered by createtxg
   */
  public static Diff of(@Nullable List<FsVersion> left, List<FsVersion> right) {
    checkSorted("right", right);
    if (left == null) {
      return new Diff(Conflict.ALL_RIGHT, List.of(), List.of(), right);
    }
    checkSorted("left", left);
    // The seed searches right from newest to oldest for each left entry, newest first; a map from
    // guid to the newest right index gives the same hit without the quadratic search.
    var newestRight = new HashMap<Long, Integer>();
    for (int r = 0; r < right.size(); r++) {
      newestRight.put(right.get(r).guid(), r);
    }
    int mrcaLeft = -1;
    int mrcaRight = -1;
    for (int l = left.size() - 1; l >= 0; l--) {
      var r = newestRight.get(left.get(l).guid());
      if (r != null) {
        mrcaLeft = l;
        mrcaRight = r;
        if (r > 0
            && right.get(r - 1).guid() == right.get(r).guid()
            && right.get(r - 1).isSnapshot()) {
          mrcaRight = r - 1;
        }
        break;
      }
    }
    if (mrcaLeft < 0) {
      return new Diff(Conflict.NO_COMMON_ANCESTOR, List.of(), left, right);
    }
    if (mrcaLeft != left.size() - 1) {
      return new Diff(
          Conflict.DIVERGED,
          List.of(),
          left.subList(mrcaLeft, left.size()),
          right.subList(mrcaRight, right.size()));
    }
    var path = new ArrayList<FsVersion>();
    path.add(right.get(mrcaRight));
    for (var v : right.subList(mrcaRight + 1, right.size())) {
      if (v.isSnapshot()) {
        path.add(v);
      }
    }
    return new Diff(Conflict.INCREMENTAL, path, List.of(), List.of());
  }

  private static void checkSorted(String side, List<FsVersion> versions) {
    for (int i = 1; i < versions.size(); i++) {
      if (Long.compareUnsigned(versions.get(i - 1).createTxg(), versions.get(i).createTxg()) > 0) {
        throw new IllegalArgumentException(
            side + " versions are not ordered by createtxg: " + versions);
      }
    }
  }

  /** The seed's string form. */
  @Override
  public String toString() {
    var name = conflict.seedName();
    return switch (conflict) {
      case INCREMENTAL ->
          name
              + ", incremental path length "
              + incrementalPath.size()
              + ", common ancestor at "
              + incrementalPath.getFirst();
      case ALL_RIGHT ->
          name
              + ", "
              + mrcaPathRight.size()
              + " versions, most recent is "
              + (mrcaPathRight.isEmpty() ? "none" : mrcaPathRight.getLast());
      case DIVERGED -> name + ", diverged at " + mrcaPathLeft.getFirst();
      case NO_COMMON_ANCESTOR -> name + ", no diff to show";
    };
  }
}
