package dev.zrepl4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.zrepl4j.config.DaemonConfig;
import dev.zrepl4j.daemon.Control;
import java.io.IOException;
import java.io.PrintStream;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code zrepl4j status}: the running daemon's jobs. On a terminal a live view (zrepl's {@code
 * interactive} mode); {@code --mode dump} (and any output that is not a terminal) the same text
 * once; {@code --mode raw} the daemon's status JSON as the control socket carries it; {@code
 * --json} that status with snake_case keys, indented.
 */
@Command(name = "status", description = "Show the state of the running daemon's jobs.")
final class StatusCommand implements Callable<Integer> {
  /** zrepl's modes of {@code status}. */
  enum Mode {
    interactive,
    dump,
    raw
  }

  @Mixin ConfigOption config = new ConfigOption();

  @Option(names = "--json", description = "Print JSON (snake_case keys) instead of text.")
  boolean json;

  @Option(names = "--job", paramLabel = "JOB", description = "Only this job (the first shown).")
  String job = "";

  @Option(
      names = "--mode",
      paramLabel = "MODE",
      description =
          "interactive (default; a live view when stdout is a terminal, else as dump), dump (the"
              + " text once), raw (the daemon's status JSON as is).")
  Mode mode = Mode.interactive;

  @Option(
      names = {"-d", "--delay"},
      paramLabel = "SECONDS",
      description = "Refresh of the live view in seconds (at least 1; default 1).")
  long delay = 1;

  @Override
  public Integer call() throws Exception {
    if (delay < 1) {
      throw new IllegalArgumentException("--delay " + delay + ": at least 1 second");
    }
    var cfg = config.load();
    if (mode == Mode.raw) {
      var raw = ControlClient.call(cfg, "status", new Control.StatusRequest(job), JsonNode.class);
      System.out.println(new ObjectMapper().writeValueAsString(raw));
      return 0;
    }
    var s = fetch(cfg);
    if (!job.isEmpty() && s.jobs().stream().noneMatch(j -> j.name().equals(job))) {
      throw new IllegalArgumentException("no job '" + job + "' in the daemon");
    }
    if (json) {
      System.out.println(JsonOut.MAPPER.writeValueAsString(only(s)));
      return 0;
    }
    var console = System.console();
    if (mode == Mode.interactive && console != null && console.isTerminal()) {
      new LiveStatus(() -> fetch(cfg), Duration.ofSeconds(delay), Clock.systemUTC()).run(s, job);
      return 0;
    }
    print(s, job, System.out);
    return 0;
  }

  /** The mapper of {@code --json}: snake_case keys, indented. */
  static final class JsonOut {
    static final ObjectMapper MAPPER =
        new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(SerializationFeature.INDENT_OUTPUT);

    private JsonOut() {}

    /** Builds the serializers of the status ahead of the output (on another thread). */
    static void prepare() {
      MAPPER.canSerialize(Control.StatusResponse.class);
    }
  }

  private Control.StatusResponse fetch(DaemonConfig cfg) throws IOException {
    // all jobs: the live view switches between them; --job picks the first one shown
    return ControlClient.call(
        cfg, "status", new Control.StatusRequest(""), Control.StatusResponse.class);
  }

  private Control.StatusResponse only(Control.StatusResponse s) {
    if (job.isEmpty()) {
      return s;
    }
    return new Control.StatusResponse(
        s.version(), s.started(), s.jobs().stream().filter(j -> j.name().equals(job)).toList());
  }

  static void print(Control.StatusResponse s, String job, PrintStream out) {
    for (var line : StatusView.dump(s, job, Clock.systemUTC().instant())) {
      out.println(line);
    }
  }
}
