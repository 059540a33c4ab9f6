package dev.zrepl4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.zrepl4j.daemon.Control;
import dev.zrepl4j.daemon.JobStatus;
import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code zrepl4j status}: the running daemon's jobs, as text or JSON. */
@Command(name = "status", description = "Show the state of the running daemon's jobs.")
final class StatusCommand implements Callable<Integer> {
  @Mixin ConfigOption config = new ConfigOption();

  @Option(names = "--json", description = "Print JSON (snake_case keys) instead of text.")
  boolean json;

  @Option(names = "--job", paramLabel = "JOB", description = "Only this job.")
  String job = "";

  @Override
  public Integer call() throws Exception {
    var cfg = config.load();
    var s =
        ControlClient.call(
            cfg, "status", new Control.StatusRequest(job), Control.StatusResponse.class);
    if (json) {
      var m =
          new ObjectMapper()
              .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
              .enable(SerializationFeature.INDENT_OUTPUT);
      System.out.println(m.writeValueAsString(s));
    } else {
      print(s, System.out);
    }
    return 0;
  }

  static void print(Control.StatusResponse s, PrintStream out) {
    out.println("zrepl4j " + s.version() + ", daemon started " + s.started());
    for (var j : s.jobs()) {
      out.printf(Locale.ROOT, "%n%s (%s): %s%n", j.name(), j.type(), j.state());
      if (j.nextRun() != null) {
        out.println("  next run: " + j.nextRun());
      }
      out.println("  runs: " + j.runs());
      if (!j.current().isEmpty()) {
        out.println("  replicating now:");
        for (var f : j.current()) {
          out.printf(
              Locale.ROOT, "    * %-40s %s %s%n", f.filesystem(), human(f.bytes()), f.message());
        }
      }
      var r = j.lastRun();
      if (r != null) {
        out.printf(
            Locale.ROOT,
            "  last run: %s, %.1f s, %s%s%s%n",
            r.started(),
            r.seconds(),
            r.ok() ? "ok" : "PROBLEMS",
            r.snapshot() == null ? "" : ", snapshot " + r.snapshot(),
            r.pruned() == 0 ? "" : ", pruned " + r.pruned());
        for (JobStatus.Fs f : r.filesystems()) {
          out.printf(
              Locale.ROOT,
              "    %-40s %-11s %d/%d steps %s%s%n",
              f.filesystem(),
              f.state(),
              f.stepsDone(),
              f.stepsTotal(),
              human(f.bytes()),
              f.message().isEmpty() ? "" : "  " + f.message());
        }
        for (var p : r.problems()) {
          out.println("    problem: " + p);
        }
      }
      if (j.lastError() != null && (r == null || r.ok())) {
        out.println("  error: " + j.lastError());
      }
      for (var w : j.warnings()) {
        out.println("  warning: " + w);
      }
      var lag = j.lag();
      if (lag != null) {
        out.printf(
            Locale.ROOT,
            "  lag objective: %s%n",
            lag.objective() == null
                ? "none"
                : lag.objective() + (lag.breached() ? ", BREACHED" : ", met"));
        for (var f : lag.filesystems()) {
          var seconds = f.seconds();
          out.printf(
              Locale.ROOT,
              "    %-40s %s%n",
              f.filesystem(),
              seconds == null
                  ? "nothing received yet"
                  : "lag " + lagText(seconds) + " (@" + f.snapshot() + ", " + f.created() + ")");
        }
        for (var b : lag.breaches()) {
          out.println("    breach: " + b);
        }
      }
    }
  }

  /** {@code 1h02m03s} style. */
  static String lagText(double seconds) {
    long s = (long) seconds;
    return s >= 3600
        ? String.format(Locale.ROOT, "%dh%02dm%02ds", s / 3600, s / 60 % 60, s % 60)
        : s >= 60 ? String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60) : s + "s";
  }

  static String human(long bytes) {
    if (bytes < 1024) {
      return bytes + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = bytes;
    int u = -1;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
  }
}
