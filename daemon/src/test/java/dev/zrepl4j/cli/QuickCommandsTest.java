package dev.zrepl4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The hand parser of the short commands against picocli: whatever it accepts, picocli accepts with
 * the same values; what it passes on, picocli parses or reports.
 */
class QuickCommandsTest {
  private static final List<String> TOKENS =
      List.of(
          "status",
          "version",
          "signal",
          "wakeup",
          "reset",
          "push",
          "--json",
          "--job",
          "--job=push",
          "--job=",
          "--mode",
          "--mode=raw",
          "dump",
          "raw",
          "interactive",
          "RAW",
          "--show",
          "--show=client",
          "client",
          "daemon",
          "--wait",
          "--wait=true",
          "--timeout",
          "10s",
          "-c",
          "--config",
          "--config=a.yml",
          "a.yml",
          "./a.yml",
          "b.yml",
          "-ca.yml",
          "--",
          "-h",
          "--help",
          "-d",
          "2",
          "--delay=3",
          "-x",
          "");

  @Test
  void plainFormsAreParsedByHand() {
    var s = parse("--config", "z.yml", "status", "--json", "--job=push", "--mode", "raw");
    assertThat(s.name()).isEqualTo("status");
    var st = (StatusCommand) s.command();
    assertThat(st.json).isTrue();
    assertThat(st.job).isEqualTo("push");
    assertThat(st.mode).isEqualTo(StatusCommand.Mode.raw);
    assertThat(st.config.path()).hasToString("z.yml");

    var sig = (SignalCommand) parse("signal", "wakeup", "push", "--wait", "-c", "z.yml").command();
    assertThat(sig.signal).isEqualTo("wakeup");
    assertThat(sig.job).isEqualTo("push");
    assertThat(sig.await).isTrue();

    var v = (Main.VersionCommand) parse("version", "--show", "client").command();
    assertThat(v.show).isEqualTo("client");
  }

  @Test
  void whatItDoesNotKnowGoesToPicocli() {
    for (var args :
        List.of(
            List.of("status", "--help"),
            List.of("status", "-d", "2"),
            List.of("status", "--json", "--json"),
            List.of("status", "--job"),
            List.of("status", "--mode", "RAW"),
            List.of("-c", "a.yml", "status", "-c", "b.yml"),
            List.of("signal", "wakeup", "push", "--timeout", "10s"),
            List.of("signal", "wakeup"),
            List.of("prune", "push"),
            List.of("--version"),
            List.of())) {
      assertThat(QuickCommands.parse(args.toArray(String[]::new))).as("%s", args).isNull();
    }
  }

  /**
   * Random command lines from {@link #TOKENS}: every one the hand parser takes, picocli parses too,
   * to the same subcommand with the same field values.
   */
  @Test
  void agreesWithPicocliOnRandomCommandLines() {
    var rnd = new Random(16);
    int quick = 0;
    for (int n = 0; n < 20_000; n++) {
      var args = new ArrayList<String>();
      if (rnd.nextInt(3) == 0) {
        args.add(rnd.nextBoolean() ? "-c" : "--config");
        args.add("a.yml");
      }
      args.add(List.of("status", "version", "signal").get(rnd.nextInt(3)));
      for (int k = rnd.nextInt(6); k > 0; k--) {
        args.add(TOKENS.get(rnd.nextInt(TOKENS.size())));
      }
      var a = args.toArray(String[]::new);
      var parsed = QuickCommands.parse(a);
      if (parsed == null) {
        continue;
      }
      quick++;
      var cl = Main.commandLine();
      assertThatCode(() -> cl.parseArgs(a)).as("picocli on %s", args).doesNotThrowAnyException();
      var sub = cl.getParseResult().subcommand();
      assertThat(sub).as("%s", args).isNotNull();
      assertThat(sub.commandSpec().name()).as("%s", args).isEqualTo(parsed.name());
      assertThat(fields(sub.commandSpec().userObject()))
          .as("%s", args)
          .isEqualTo(fields(parsed.command()));
    }
    // the sample must reach the hand parser's side, not only the fallback
    assertThat(quick).isGreaterThan(1000);
  }

  private static QuickCommands.Parsed parse(String... args) {
    var p = QuickCommands.parse(args);
    assertThat(p).as("%s", List.of(args)).isNotNull();
    return p;
  }

  private static List<Object> fields(Object command) {
    return switch (command) {
      case StatusCommand s -> List.of(s.json, s.job, s.mode, s.delay, config(s.config));
      case SignalCommand s ->
          List.of(s.signal, s.job, s.await, String.valueOf(s.timeout), config(s.config));
      case Main.VersionCommand v -> List.of(String.valueOf(v.show), config(v.config));
      default -> throw new AssertionError(command);
    };
  }

  private static String config(ConfigOption o) {
    return o.given().map(p -> p.toAbsolutePath().normalize().toString()).orElse("(default)");
  }
}
