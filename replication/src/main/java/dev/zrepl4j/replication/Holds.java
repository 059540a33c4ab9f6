package dev.zrepl4j.replication;

import dev.zrepl4j.zfs.FilesystemVersion.FullName;
import dev.zrepl4j.zfs.SideBySide;
import dev.zrepl4j.zfs.Zfs;
import dev.zrepl4j.zfs.ZfsException;
import java.io.IOException;
import java.util.List;
import java.util.function.Predicate;

/**
 * One tag held on or released from several snapshots in a few {@code zfs} commands side by side (at
 * most {@link SideBySide#PARALLEL} up to {@link #MAX_PER_COMMAND} snapshots each). zfs-fuse and
 * OpenZFS both go on with the other snapshots when the tag is already there (hold) or not there
 * (release) on one of them, exit 1 and say so in one stderr line per snapshot; only those lines are
 * tolerated here, anything else fails.
 */
final class Holds {
  private Holds() {}

  /** The most snapshots one command names (a command line stays far below the kernel's limit). */
  static final int MAX_PER_COMMAND = 512;

  /**
   * The fewest snapshots one of several commands side by side names: each command's start costs
   * about as much as holding a dozen snapshots.
   */
  static final int MIN_PER_COMMAND = 16;

  /** Holds {@code tag} on {@code snapshots}; where it is already held, nothing changes. */
  static void hold(Zfs zfs, String tag, List<FullName> snapshots) throws IOException {
    inParts(snapshots, part -> zfs.hold(tag, part), Holds::tagExists);
  }

  /** Releases {@code tag} from {@code snapshots}; where it is not held, nothing changes. */
  static void release(Zfs zfs, String tag, List<FullName> snapshots) throws IOException {
    inParts(snapshots, part -> zfs.release(tag, part), Holds::noSuchTag);
  }

  /** A hold or release of some snapshots. */
  @FunctionalInterface
  private interface Command {
    void run(List<FullName> snapshots) throws IOException;
  }

  /**
   * {@code command} over parts of {@code snapshots}, side by side ({@link SideBySide}: each
   * snapshot's hold or release waits for a transaction group, which commands side by side share), a
   * failure {@code tolerated} ignored.
   */
  private static void inParts(
      List<FullName> snapshots, Command command, Predicate<ZfsException> tolerated)
      throws IOException {
    SideBySide.run(
        SideBySide.parts(snapshots, MIN_PER_COMMAND, MAX_PER_COMMAND),
        part -> {
          try {
            command.run(part);
          } catch (ZfsException e) {
            if (!tolerated.test(e)) {
              throw e;
            }
          }
          return true;
        });
  }

  /** Whether every line of the failure says the tag is already held. */
  static boolean tagExists(ZfsException e) {
    return everyLineSays(e.stderr(), "tag already exists");
  }

  /** Whether every line of the failure says the tag is not held. */
  static boolean noSuchTag(ZfsException e) {
    return everyLineSays(e.stderr(), "no such tag");
  }

  private static boolean everyLineSays(String stderr, String phrase) {
    return ZfsException.everyLine(stderr, l -> l.contains(phrase));
  }
}
