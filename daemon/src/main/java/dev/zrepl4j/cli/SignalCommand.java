package dev.zrepl4j.cli;

import dev.zrepl4j.daemon.Control;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code zrepl4j signal wakeup|reset JOB}; {@code wakeup --wait [--timeout D]} (beyond zrepl) waits
 * for the run that this wakeup starts, prints its per-filesystem outcome and exits 1 if it failed.
 */
@Command(
    name = "signal",
    description =
        "wakeup: run the job now (replication and pruning); reset: abort its current run. With"
            + " --wait, wakeup waits for the run it started and prints its result (exit 0: it"
            + " succeeded, 1: it had problems or the daemon went away, 3: --timeout passed).")
final class SignalCommand implements Callable<Integer> {
  /** Exit status when {@code --timeout} passes before the run ends. */
  static final int TIMED_OUT = 3;

  private static final Duration POLL = Duration.ofMillis(200);

  @Mixin ConfigOption config = new ConfigOption();

  @Parameters(index = "0", paramLabel = "SIGNAL", description = "wakeup or reset")
  String signal = "";

  @Parameters(index = "1", paramLabel = "JOB")
  String job = "";

  @Option(
      names = "--wait",
      description =
          "wakeup only: wait until the run this wakeup starts has ended (a run in progress ends"
              + " first; the run after it serves the wakeup), print its result per filesystem,"
              + " exit 1 if it had problems.")
  boolean await;

  @Option(
      names = "--timeout",
      paramLabel = "DURATION",
      converter = GoDuration.class,
      description =
          "With --wait: give up after this long (e.g. 90s, 10m, 1h30m; exit 3). The run goes on.")
  @Nullable Duration timeout;

  @Override
  public Integer call() throws Exception {
    if (!signal.equals("wakeup") && !signal.equals("reset")) {
      System.err.println("unknown signal '" + signal + "': use wakeup or reset");
      return 2;
    }
    if (timeout != null && !await) {
      throw new IllegalArgumentException("--timeout only goes with --wait");
    }
    if (await && !signal.equals("wakeup")) {
      throw new IllegalArgumentException("--wait only goes with wakeup");
    }
    var cfg = config.load();
    if (!await) {
      var r =
          ControlClient.call(
              cfg, "signal", new Control.SignalRequest(job, signal), Control.Lines.class);
      r.lines().forEach(System.out::println);
      return 0;
    }
    var w =
        ControlClient.call(
            cfg, "wakeup", new Control.StatusRequest(job), Control.WakeupResponse.class);
    System.err.println("sent wakeup to job " + job + ": waiting for its run " + w.run());
    long deadline = timeout == null ? Long.MAX_VALUE : System.nanoTime() + timeout.toNanos();
    while (true) {
      var r =
          ControlClient.call(
              cfg, "run", new Control.RunRequest(job, w.run()), Control.RunResponse.class);
      var result = r.result();
      if (r.state().equals("done") && result != null) {
        System.out.println(
            String.format(
                Locale.ROOT,
                "job %s run %d: %s, started %s, %.1f s%s%s",
                job,
                w.run(),
                result.ok() ? "ok" : "FAILED",
                result.started(),
                result.seconds(),
                result.snapshot() == null ? "" : ", snapshot " + result.snapshot(),
                result.pruned() == 0 ? "" : ", pruned " + result.pruned()));
        StatusView.runDetails(result, "").forEach(System.out::println);
        return result.ok() ? 0 : 1;
      }
      if (r.state().equals("unknown")) {
        throw new IllegalArgumentException(
            "run "
                + w.run()
                + " of job "
                + job
                + " ended without a result the daemon remembers (it was stopped or restarted)");
      }
      if (System.nanoTime() - deadline > 0) {
        System.err.println(
            "timeout after "
                + timeout
                + ": run "
                + w.run()
                + " of job "
                + job
                + " is still "
                + r.state()
                + " (it goes on)");
        return TIMED_OUT;
      }
      Thread.sleep(POLL);
    }
  }

  /**
   * Go's durations as zrepl writes them: {@code 90s}, {@code 10m}, {@code 1h30m}, {@code 500ms}.
   */
  static final class GoDuration implements CommandLine.ITypeConverter<Duration> {
    private static final Pattern ALL = Pattern.compile("(\\d+(ms|s|m|h))+");
    private static final Pattern PART = Pattern.compile("(\\d+)(ms|s|m|h)");

    @Override
    public Duration convert(String value) {
      if (!ALL.matcher(value).matches()) {
        throw new CommandLine.TypeConversionException(
            "'" + value + "' is no duration (e.g. 90s, 10m, 1h30m, 500ms)");
      }
      var d = Duration.ZERO;
      var m = PART.matcher(value);
      try {
        while (m.find()) {
          long n = Long.parseLong(m.group(1));
          d =
              switch (m.group(2)) {
                case "ms" -> d.plusMillis(n);
                case "s" -> d.plusSeconds(n);
                case "m" -> d.plus(Duration.ofMinutes(n));
                default -> d.plus(Duration.ofHours(n));
              };
        }
      } catch (ArithmeticException | NumberFormatException e) {
        throw new CommandLine.TypeConversionException("'" + value + "' is too long a duration");
      }
      if (d.isZero()) {
        throw new CommandLine.TypeConversionException("'" + value + "': must be positive");
      }
      return d;
    }
  }
}
