package dev.zrepl4j.cli;

import dev.zrepl4j.daemon.Control;
import dev.zrepl4j.daemon.JobStatus;
import dev.zrepl4j.daemon.Transfer;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * The daemon's status as lines of text: the live view's screen ({@link #screen}) and the text of
 * {@code --mode dump} and of a {@code status} whose output is not a terminal ({@link #dump}). Pure
 * functions of the status, the time and the view's state; thread-safe.
 *
 * <p>Implementation notes: a step in progress shows a bar, its bytes, the rate since it started
 * and, where the sender estimated the stream's size ({@code replication.concurrency
 * .size_estimates}; zfs-fuse gives none), the fraction done and the time left. Without an estimate
 * the bar is a marker that moves with each refresh, so a running transfer still looks alive. The
 * screen never has more lines than the terminal nor a line wider than it: what does not fit is cut
 * with an ellipsis, so that any size, even 1x1, draws without wrapping.
 */
final class StatusView {
  private StatusView() {}

  /** The widest bar (brackets included). */
  static final int BAR_WIDTH = 42;

  /** The narrowest bar worth drawing (brackets included); narrower, the line has none. */
  static final int BAR_MIN = 7;

  /** The key help of the live view. */
  static final String KEYS = "tab/arrows: job  /: filter  q: quit";

  /**
   * The state of the live view.
   *
   * @param selected the index of the job shown
   * @param filter only filesystems whose name contains it (case-insensitive); empty: all
   * @param editing whether the filter is being typed
   */
  record ViewState(int selected, String filter, boolean editing) {
    static final ViewState START = new ViewState(0, "", false);

    /** The next job (wraps around). */
    ViewState next(int jobs) {
      return new ViewState(jobs == 0 ? 0 : Math.floorMod(selected + 1, jobs), filter, editing);
    }

    /** The previous job (wraps around). */
    ViewState previous(int jobs) {
      return new ViewState(jobs == 0 ? 0 : Math.floorMod(selected - 1, jobs), filter, editing);
    }
  }

  /**
   * The text of {@code --mode dump}: every job (or only {@code job} when not empty), all
   * filesystems, no width limit.
   */
  static List<String> dump(Control.StatusResponse s, String job, Instant now) {
    var out = new ArrayList<String>();
    out.add("zrepl4j " + s.version() + ", daemon started " + s.started());
    for (var j : s.jobs()) {
      if (job.isEmpty() || j.name().equals(job)) {
        out.add("");
        out.addAll(job(j, "", now, Integer.MAX_VALUE, 0));
      }
    }
    return out;
  }

  /**
   * The live view's screen: a title, the jobs with the selected one marked, the filter, then the
   * selected job; at most {@code height} lines of at most {@code width} characters.
   *
   * @param fetchError why the last status could not be read, or null
   * @param tick counts the refreshes (moves the marker of a transfer without estimate)
   */
  static List<String> screen(
      Control.StatusResponse s,
      @Nullable String fetchError,
      ViewState view,
      Instant now,
      int width,
      int height,
      long tick) {
    var out = new ArrayList<String>();
    out.add("zrepl4j status  " + KEYS);
    if (fetchError != null) {
      out.add("daemon not reachable: " + fetchError);
    }
    var tabs = new StringBuilder("jobs:");
    var jobs = s.jobs();
    int sel = jobs.isEmpty() ? 0 : Math.floorMod(view.selected(), jobs.size());
    for (int i = 0; i < jobs.size(); i++) {
      var n = jobs.get(i).name();
      tabs.append(i == sel ? " [" + n + "]" : "  " + n + " ");
    }
    out.add(tabs.toString());
    if (view.editing()) {
      out.add("filter: " + view.filter() + "_");
    } else if (!view.filter().isEmpty()) {
      out.add("filter: " + view.filter());
    }
    out.add("");
    if (jobs.isEmpty()) {
      out.add("no jobs");
    } else {
      out.addAll(job(jobs.get(sel), view.filter(), now, width, tick));
    }
    return fit(out, width, height);
  }

  /** One job's lines; bars sized for {@code width}. */
  static List<String> job(JobStatus j, String filter, Instant now, int width, long tick) {
    var out = new ArrayList<String>();
    out.add(j.name() + " (" + j.type() + "): " + j.state());
    if (j.nextRun() != null) {
      out.add("  next run: " + j.nextRun());
    }
    out.add("  runs: " + j.runs());
    var current = j.current().stream().filter(f -> matches(f, filter)).toList();
    if (!current.isEmpty()) {
      out.add("  replicating now:");
      int nameWidth = current.stream().mapToInt(f -> f.filesystem().length()).max().orElse(0);
      for (var f : current) {
        out.add(
            String.format(
                Locale.ROOT,
                "    * %-" + nameWidth + "s  step %d/%d  %s",
                f.filesystem(),
                f.stepsDone() + 1,
                Math.max(f.stepsTotal(), f.stepsDone() + 1),
                f.message()));
        out.add(progressLine(f, now, width, tick));
      }
    }
    var r = j.lastRun();
    if (r != null) {
      out.add(
          String.format(
              Locale.ROOT,
              "  last run: %s, %.1f s, %s%s%s",
              r.started(),
              r.seconds(),
              r.ok() ? "ok" : "PROBLEMS",
              r.snapshot() == null ? "" : ", snapshot " + r.snapshot(),
              r.pruned() == 0 ? "" : ", pruned " + r.pruned()));
      out.addAll(runDetails(r, filter));
    }
    if (j.lastError() != null && (r == null || r.ok())) {
      out.add("  error: " + j.lastError());
    }
    for (var w : j.warnings()) {
      out.add("  warning: " + w);
    }
    var lag = j.lag();
    if (lag != null) {
      out.add(
          "  lag objective: "
              + (lag.objective() == null
                  ? "none"
                  : lag.objective() + (lag.breached() ? ", BREACHED" : ", met")));
      for (var f : lag.filesystems()) {
        var seconds = f.seconds();
        out.add(
            String.format(
                Locale.ROOT,
                "    %-40s %s",
                f.filesystem(),
                seconds == null
                    ? "nothing received yet"
                    : "lag " + lagText(seconds) + " (@" + f.snapshot() + ", " + f.created() + ")"));
      }
      for (var b : lag.breaches()) {
        out.add("    breach: " + b);
      }
    }
    var v = j.verify();
    if (v != null) {
      out.add(
          "  verify: "
              + (v.ok() ? "ok" : v.problems().size() + " PROBLEM(S)")
              + " at "
              + v.finished()
              + " ("
              + v.snapshots()
              + " snapshots compared, "
              + v.contentChecked()
              + " by content)");
      for (var p : v.problems()) {
        if (filter.isEmpty()
            || p.filesystem().toLowerCase(Locale.ROOT).contains(filter.toLowerCase(Locale.ROOT))) {
          out.add("    " + p.kind() + ": " + p.filesystem() + ": " + p.message());
        }
      }
    }
    return out;
  }

  /**
   * A completed run's filesystems (those matching {@code filter}), one line each with state, steps,
   * bytes and message, then its problems; indented by four.
   */
  static List<String> runDetails(JobStatus.Run r, String filter) {
    var out = new ArrayList<String>();
    var shown = r.filesystems().stream().filter(f -> matches(f, filter)).toList();
    int nameWidth = shown.stream().mapToInt(f -> f.filesystem().length()).max().orElse(0);
    for (var f : shown) {
      out.add(
          String.format(
              Locale.ROOT,
              "    %-" + Math.max(nameWidth, 1) + "s  %-11s %d/%d steps %s%s",
              f.filesystem(),
              f.state(),
              f.stepsDone(),
              f.stepsTotal(),
              Transfer.bytes(f.bytes()),
              f.message().isEmpty() ? "" : "  " + f.message()));
    }
    if (shown.size() < r.filesystems().size()) {
      out.add("    (" + (r.filesystems().size() - shown.size()) + " filtered out)");
    }
    for (var p : r.problems()) {
      out.add("    problem: " + p);
    }
    return out;
  }

  /** {@code 1h02m03s} style. */
  static String lagText(double seconds) {
    long s = (long) seconds;
    return s >= 3600
        ? String.format(Locale.ROOT, "%dh%02dm%02ds", s / 3600, s / 60 % 60, s % 60)
        : s >= 60 ? String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60) : s + "s";
  }

  /**
   * The second line of a step in progress: {@code [=====> ] 40.0 MiB / 100.0 MiB 40% 2.0 MiB/s ETA
   * 30s}; without an estimate {@code [ <=> ] 40.0 MiB 2.0 MiB/s (no size estimate)}.
   */
  static String progressLine(JobStatus.Fs f, Instant now, int width, long tick) {
    var t = new Transfer(Math.max(0, f.bytes()), Math.max(-1, f.expectedBytes()), elapsed(f, now));
    var rate = Transfer.bytes(Math.round(t.rate())) + "/s";
    String stats;
    if (t.estimated()) {
      stats =
          String.format(
              Locale.ROOT,
              "%s / %s  %d%%  %s  ETA %s",
              Transfer.bytes(t.bytes()),
              Transfer.bytes(t.expectedBytes()),
              (int) Math.floor(t.fraction() * 100),
              rate,
              Transfer.duration(t.etaSeconds()));
    } else {
      stats = Transfer.bytes(t.bytes()) + "  " + rate + "  (no size estimate)";
    }
    var indent = "        ";
    int room =
        width == Integer.MAX_VALUE ? BAR_WIDTH : width - indent.length() - 2 - stats.length();
    int barWidth = Math.min(BAR_WIDTH, room);
    if (barWidth < BAR_MIN) {
      return indent + stats;
    }
    return indent + bar(t.fraction(), barWidth, tick) + "  " + stats;
  }

  private static Duration elapsed(JobStatus.Fs f, Instant now) {
    var started = f.stepStarted();
    if (started == null) {
      return Duration.ZERO;
    }
    try {
      return Duration.between(Instant.parse(started), now);
    } catch (DateTimeParseException e) {
      return Duration.ZERO; // a daemon that sent no valid time: no rate rather than no view
    }
  }

  private static boolean matches(JobStatus.Fs f, String filter) {
    return filter.isEmpty()
        || f.filesystem().toLowerCase(Locale.ROOT).contains(filter.toLowerCase(Locale.ROOT));
  }

  /**
   * A bar of exactly {@code width} characters (brackets included; nothing below 2): filled to
   * {@code fraction} ({@code [====> ]}), or for a fraction below 0 (unknown) a {@code <=>} marker
   * whose place follows {@code tick} back and forth.
   */
  static String bar(double fraction, int width, long tick) {
    if (width < 2) {
      return "";
    }
    int inner = width - 2;
    var b = new StringBuilder(width).append('[');
    if (fraction >= 0) {
      int filled = (int) Math.floor(Math.min(1.0, fraction) * inner);
      b.append("=".repeat(filled));
      if (filled < inner) {
        b.append('>').append(" ".repeat(inner - filled - 1));
      }
    } else {
      var marker = "<=>";
      if (inner < marker.length()) {
        b.append(" ".repeat(inner));
      } else {
        int span = inner - marker.length();
        int pos = span == 0 ? 0 : (int) Math.floorMod(tick, 2L * span);
        if (pos > span) {
          pos = 2 * span - pos;
        }
        b.append(" ".repeat(pos)).append(marker).append(" ".repeat(span - pos));
      }
    }
    return b.append(']').toString();
  }

  /**
   * At most {@code height} lines of at most {@code width} characters: longer lines end in an
   * ellipsis, and when lines are left out the last one says how many.
   */
  static List<String> fit(List<String> lines, int width, int height) {
    if (width <= 0 || height <= 0) {
      return List.of();
    }
    var out = new ArrayList<String>(Math.min(lines.size(), height));
    for (int i = 0; i < lines.size() && out.size() < height; i++) {
      if (out.size() == height - 1 && lines.size() > height) {
        out.add(cut("… " + (lines.size() - i) + " more lines", width));
        break;
      }
      out.add(cut(lines.get(i), width));
    }
    return out;
  }

  /** {@code line} cut to {@code width} characters, with an ellipsis where it was cut. */
  static String cut(String line, int width) {
    if (width <= 0) {
      return "";
    }
    var clean = line.replace('\t', ' ').replaceAll("\\p{Cntrl}", "?");
    if (clean.codePointCount(0, clean.length()) <= width) {
      return clean;
    }
    int end = clean.offsetByCodePoints(0, width - 1);
    return clean.substring(0, end) + "…";
  }
}
