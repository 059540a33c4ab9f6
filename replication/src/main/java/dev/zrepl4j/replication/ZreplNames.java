package dev.zrepl4j.replication;

import java.util.HexFormat;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * zrepl's on-disk names of its abstractions (ZREPL-MODERN.md §1.7), so that a zrepl setup can be
 * taken over and zrepl's tools recognize ours: the replication cursor bookmark {@code
 * #zrepl_CURSOR_G_<guid 16 hex>_J_<job>}, the tentative cursor {@code
 * #zrepl_CURSORTENTATIVE__G_<guid>_J_<job>} (two underscores: zrepl's prefix {@code
 * zrepl_CURSORTENTATIVE_} is followed by its {@code _G_}), step holds {@code zrepl_STEP_J_<job>},
 * the last-received hold {@code zrepl_last_received_J_<job>}; and, where ZFS has no bookmarks
 * (zfs-fuse), the cursor as a hold {@code zrepl_CURSOR_J_<job>}. Stateless.
 *
 * <p>Public only for pruning, which must recognize the cursor bookmarks of any job ({@link
 * #isCursorBookmark}), configcheck ({@link #jobProblem}) and {@code zrepl4j zfs-abstraction}, which
 * recognizes every job's names exactly (the {@code parse…} methods) and makes step holds; the rest
 * is the engine's own.
 */
public final class ZreplNames {
  private static final Pattern JOB = Pattern.compile("[A-Za-z0-9_.:\\-]{1,128}");
  // a tentative cursor as zrepl names it (two underscores) or as zrepl4j named it before it did
  // the same (one), so that those are still cleaned up
  private static final Pattern CURSOR =
      Pattern.compile("zrepl_CURSOR(TENTATIVE_?)?_G_([0-9a-f]{16})_J_(.+)");

  private ZreplNames() {}

  /**
   * Checks a job name: it becomes part of hold tags and bookmark names.
   *
   * @throws IllegalArgumentException naming it if it has other characters than {@code
   *     A-Za-z0-9_.:-} or is empty or too long
   */
  static String checkJob(String job) {
    var problem = jobProblem(job);
    if (problem.isPresent()) {
      throw new IllegalArgumentException("invalid job name '" + job + "': " + problem.get());
    }
    return job;
  }

  /**
   * Why {@code job} cannot name a job that replicates (its name becomes part of hold tags and
   * bookmark names), if it cannot; for configcheck, which must refuse what {@link #checkJob} will.
   */
  public static Optional<String> jobProblem(String job) {
    return JOB.matcher(job).matches()
        ? Optional.empty()
        : Optional.of("use 1-128 of A-Z a-z 0-9 _ . : -");
  }

  /** {@code zrepl_CURSOR_G_<guid 16 hex>_J_<job>}. */
  static String cursorBookmark(long guid, String job) {
    return "zrepl_CURSOR_G_" + HexFormat.of().toHexDigits(guid) + "_J_" + checkJob(job);
  }

  /**
   * {@code zrepl_CURSORTENTATIVE__G_<guid 16 hex>_J_<job>}: zrepl's {@code
   * makeJobAndGuidBookmarkName("zrepl_CURSORTENTATIVE_", ...)} appends {@code _G_} to a prefix that
   * ends in {@code _}, and only that exact name is a tentative cursor to zrepl.
   */
  static String tentativeCursorBookmark(long guid, String job) {
    return "zrepl_CURSORTENTATIVE__G_" + HexFormat.of().toHexDigits(guid) + "_J_" + checkJob(job);
  }

  /**
   * The name a source job's abstractions carry for one pulling client: {@code <job>_C_<client>}, so
   * that every client keeps its own cursor and step holds ({@code
   * #zrepl_CURSOR_G_<guid>_J_<job>_C_<client>}, {@code zrepl_STEP_J_<job>_C_<client>}). To zrepl
   * and its tools this is a job of that name, its names stay readable.
   *
   * @throws IllegalArgumentException if the result is not a valid job name (a client identity with
   *     other characters, or too long)
   */
  static String clientJob(String job, String client) {
    checkJob(job);
    var problem = clientJobProblem(job, client);
    if (problem.isPresent()) {
      throw new IllegalArgumentException(problem.get());
    }
    return job + CLIENT_INFIX + client;
  }

  /**
   * Why client {@code client} of source job {@code job} cannot have a cursor and step holds of its
   * own ({@link #clientJob}), if it cannot; for configcheck, which must refuse what the daemon
   * would refuse at the client's first call.
   */
  public static Optional<String> clientJobProblem(String job, String client) {
    var name = job + CLIENT_INFIX + client;
    return jobProblem(name)
        .map(
            p ->
                "client '"
                    + client
                    + "' of source job "
                    + job
                    + " cannot name its cursor and step holds '"
                    + name
                    + "': "
                    + p);
  }

  /**
   * Whether {@code job} (parsed from a name) is source job {@code family} itself (a cursor from
   * before it kept one per client) or one of its clients ({@link #clientJob}).
   */
  static boolean ofFamily(String job, String family) {
    return job.equals(family) || job.startsWith(family + CLIENT_INFIX);
  }

  private static final String CLIENT_INFIX = "_C_";

  /** The cursor as a hold tag, where ZFS has no bookmarks: {@code zrepl_CURSOR_J_<job>}. */
  static String cursorHold(String job) {
    return "zrepl_CURSOR_J_" + checkJob(job);
  }

  /** {@code zrepl_STEP_J_<job>}. */
  static String stepHold(String job) {
    return "zrepl_STEP_J_" + checkJob(job);
  }

  /** {@code zrepl_last_received_J_<job>}. */
  static String lastReceivedHold(String job) {
    return "zrepl_last_received_J_" + checkJob(job);
  }

  /**
   * A parsed cursor bookmark name.
   *
   * @param tentative a tentative cursor ({@code zrepl_CURSORTENTATIVE__…}, or zrepl4j's earlier
   *     {@code zrepl_CURSORTENTATIVE_…})
   * @param guid the guid encoded in the name
   * @param job the job it belongs to
   */
  record CursorName(boolean tentative, long guid, String job) {}

  /** Parses a bookmark name (after {@code #}) if it is a (tentative) cursor of any job. */
  static Optional<CursorName> parseCursorBookmark(String bookmarkName) {
    var m = CURSOR.matcher(bookmarkName);
    if (!m.matches()) {
      return Optional.empty();
    }
    return Optional.of(
        new CursorName(m.group(1) != null, HexFormat.fromHexDigitsToLong(m.group(2)), m.group(3)));
  }

  /**
   * Whether {@code bookmarkName} (after {@code #}) is a cursor or tentative cursor bookmark of any
   * job: the snapshot with its guid is a replication base that pruning must keep.
   */
  public static boolean isCursorBookmark(String bookmarkName) {
    return parseCursorBookmark(bookmarkName).isPresent();
  }

  // ---- parsing for `zrepl4j zfs-abstraction` (any job's names, as zrepl's endpoint parses them)
  // --

  /** zrepl's v1 replication cursor bookmark name (one per filesystem, no job). */
  public static final String V1_CURSOR_BOOKMARK = "zrepl_replication_cursor";

  private static final Pattern GUID_JOB_BOOKMARK = Pattern.compile("(.+)_G_([0-9a-f]{16})_J_(.+)");

  /**
   * A bookmark name of the form {@code <prefix>_G_<guid 16 hex>_J_<job>}.
   *
   * @param guid the guid encoded in the name
   * @param job a valid job name
   */
  public record GuidAndJob(long guid, String job) {}

  /** {@code zrepl_STEP_G_<guid>_J_<job>}, zrepl's step bookmark. */
  public static Optional<GuidAndJob> parseStepBookmark(String bookmarkName) {
    return guidAndJob("zrepl_STEP", bookmarkName);
  }

  /** {@code zrepl_CURSOR_G_<guid>_J_<job>}, the (v2) replication cursor bookmark. */
  public static Optional<GuidAndJob> parseCursor(String bookmarkName) {
    return guidAndJob("zrepl_CURSOR", bookmarkName);
  }

  /** {@code zrepl_CURSORTENTATIVE_G_<guid>_J_<job>}, the tentative replication cursor. */
  public static Optional<GuidAndJob> parseTentativeCursor(String bookmarkName) {
    return guidAndJob("zrepl_CURSORTENTATIVE", bookmarkName);
  }

  private static Optional<GuidAndJob> guidAndJob(String prefix, String name) {
    var m = GUID_JOB_BOOKMARK.matcher(name);
    if (!m.matches() || !m.group(1).equals(prefix) || jobProblem(m.group(3)).isPresent()) {
      return Optional.empty();
    }
    return Optional.of(new GuidAndJob(HexFormat.fromHexDigitsToLong(m.group(2)), m.group(3)));
  }

  /** The job of a step hold tag {@code zrepl_STEP_J_<job>}. */
  public static Optional<String> parseStepHold(String tag) {
    return tagJob("zrepl_STEP_J_", tag);
  }

  /** The job of a last-received hold tag {@code zrepl_last_received_J_<job>}. */
  public static Optional<String> parseLastReceivedHold(String tag) {
    return tagJob("zrepl_last_received_J_", tag);
  }

  /** The job of zrepl4j's cursor hold tag {@code zrepl_CURSOR_J_<job>} (ZFS without bookmarks). */
  public static Optional<String> parseCursorHold(String tag) {
    return tagJob("zrepl_CURSOR_J_", tag);
  }

  private static Optional<String> tagJob(String prefix, String tag) {
    if (!tag.startsWith(prefix)) {
      return Optional.empty();
    }
    var job = tag.substring(prefix.length());
    return jobProblem(job).isPresent() ? Optional.empty() : Optional.of(job);
  }

  /** {@code zrepl_STEP_J_<job>} of a valid job name. */
  public static String stepHoldTag(String job) {
    return stepHold(job);
  }

  /** {@code zrepl_last_received_J_<job>} of a valid job name. */
  public static String lastReceivedHoldTag(String job) {
    return lastReceivedHold(job);
  }

  /** {@code zrepl_CURSOR_J_<job>} of a valid job name. */
  public static String cursorHoldTag(String job) {
    return cursorHold(job);
  }

  /** {@code zrepl_STEP_G_<guid 16 hex>_J_<job>}, zrepl's step bookmark of a valid job name. */
  public static String stepBookmark(long guid, String job) {
    return "zrepl_STEP_G_" + HexFormat.of().toHexDigits(guid) + "_J_" + checkJob(job);
  }
}
