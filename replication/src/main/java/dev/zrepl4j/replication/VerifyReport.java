package dev.zrepl4j.replication;

import java.util.List;

/**
 * What {@code zrepl4j verify} found for one job ({@link Verifier}).
 *
 * @param job the job
 * @param started when the check started (ISO-8601)
 * @param finished when it ended (ISO-8601)
 * @param filesystems the filesystems compared
 * @param snapshots the receiver's snapshots checked against the sender's (by guid; size too where
 *     both sides know {@code logicalreferenced})
 * @param unchecked the receiver's snapshots the sender no longer has (pruned there): nothing to
 *     compare them with
 * @param contentChecked the snapshots whose content was compared on both sides
 * @param contentBytes the bytes of content read on each side for that
 * @param problems what does not match; empty when the copy is what was sent
 * @param notes what was not compared and why
 */
public record VerifyReport(
    String job,
    String started,
    String finished,
    int filesystems,
    int snapshots,
    int unchecked,
    int contentChecked,
    long contentBytes,
    List<Problem> problems,
    List<String> notes) {
  public VerifyReport {
    problems = List.copyOf(problems);
    notes = List.copyOf(notes);
  }

  /** A verify that could not run: its only problem is the {@code error} that stopped it. */
  public static VerifyReport failed(String job, String started, String finished, String error) {
    return new VerifyReport(
        job, started, finished, 0, 0, 0, 0, 0, List.of(new Problem("", "error", error)), List.of());
  }

  /** Whether the copies matched the sender in everything compared. */
  public boolean ok() {
    return problems.isEmpty();
  }

  /**
   * One mismatch.
   *
   * @param filesystem in the sender's namespace
   * @param kind {@code guid} (a snapshot of that name is another snapshot), {@code size} ({@code
   *     logicalreferenced} differs), {@code content} (the content digests differ), {@code property}
   *     (set on the copy by hand over what was received), {@code missing} (gone from the copy
   *     although the job's {@code keep_receiver} rules keep it), {@code clone} (the copy became a
   *     clone: a clone of it was promoted and took its older snapshots), {@code error} (the
   *     filesystem could not be compared)
   * @param message what, with both sides' values
   */
  public record Problem(String filesystem, String kind, String message) {}
}
