package dev.zrepl4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zrepl4j.daemon.Control;
import dev.zrepl4j.rpc.RpcClient;
import java.lang.reflect.Type;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;

/**
 * The short commands that only talk to the daemon ({@code status}, {@code version}, {@code signal})
 * in their plain forms, parsed by hand instead of by picocli: picocli is compiled for Java 5, whose
 * class files the JVM's AOT cache cannot hold, so building its model from the annotations of every
 * subcommand costs more than the rest of {@code zrepl4j status} together (issue 16: the target is
 * 150 ms wall; {@code bench/run cli}). The command objects are picocli's own, with their fields set
 * here and {@code call()} run as picocli would, so both paths do the same; anything this parser
 * does not know for certain (help, an unknown or repeated option, a missing value, {@code --delay},
 * {@code --timeout}, {@code --}, a value that looks like an option, {@code --config} twice with
 * different files) goes to picocli, which accepts it or explains the error.
 */
final class QuickCommands {
  private QuickCommands() {}

  /** Runs a parsed command as picocli would: its exit status; an error as one clear message. */
  static int run(Parsed parsed) {
    // the JSON codec of the call, built on a second core while this one reads the config and
    // connects (bench/run cli)
    Thread.ofPlatform()
        .daemon()
        .name("json-prepare")
        .start(
            () -> {
              try {
                RpcClient.prepare(parsed.types().toArray(Type[]::new));
                if (parsed.command() instanceof StatusCommand s && s.json) {
                  StatusCommand.JsonOut.prepare();
                }
              } catch (RuntimeException e) {
                // the call itself meets whatever this met
              }
            });
    try {
      return parsed.command().call();
    } catch (Exception e) {
      return Main.failed(parsed.name(), e);
    }
  }

  /**
   * A command line understood here: the subcommand's name, its object ready to call, and the types
   * its control calls send and receive.
   */
  record Parsed(String name, Callable<Integer> command, List<Type> types) {}

  /** The parse of {@code args}, or {@code null} when picocli must parse them. */
  static @Nullable Parsed parse(String[] args) {
    var a = new Args(args);
    Path global = null;
    while (a.more() && a.peek().startsWith("-")) {
      var c = a.config();
      if (c == null || global != null) {
        return null;
      }
      global = c;
    }
    if (!a.more()) {
      return null;
    }
    var name = a.next();
    var seen = new HashSet<String>();
    return switch (name) {
      case "status" -> status(a, global, seen);
      case "version" -> version(a, global, seen);
      case "signal" -> signal(a, global, seen);
      default -> null;
    };
  }

  private static @Nullable Parsed status(Args a, @Nullable Path global, Set<String> seen) {
    var s = new StatusCommand();
    while (a.more()) {
      switch (a.name()) {
        case "--json" -> {
          if (a.hasInlineValue() || !seen.add("--json")) {
            return null;
          }
          a.next();
          s.json = true;
        }
        case "--job" -> {
          var v = a.value();
          if (v == null || !seen.add("--job")) {
            return null;
          }
          s.job = v;
        }
        case "--mode" -> {
          var v = a.value();
          if (v == null || !seen.add("--mode")) {
            return null;
          }
          try {
            s.mode = StatusCommand.Mode.valueOf(v);
          } catch (IllegalArgumentException e) {
            return null;
          }
        }
        case "-c", "--config" -> {
          if (!a.localConfig()) {
            return null;
          }
        }
        default -> {
          return null;
        }
      }
    }
    var config = config(global, a.local);
    if (config == null) {
      return null;
    }
    s.config = config;
    return new Parsed(
        "status",
        s,
        List.of(
            Control.StatusRequest.class,
            s.mode == StatusCommand.Mode.raw ? JsonNode.class : Control.StatusResponse.class));
  }

  private static @Nullable Parsed version(Args a, @Nullable Path global, Set<String> seen) {
    var v = new Main.VersionCommand();
    while (a.more()) {
      switch (a.name()) {
        case "--show" -> {
          var s = a.value();
          if (s == null || !seen.add("--show")) {
            return null;
          }
          v.show = s;
        }
        case "-c", "--config" -> {
          if (!a.localConfig()) {
            return null;
          }
        }
        default -> {
          return null;
        }
      }
    }
    var config = config(global, a.local);
    if (config == null) {
      return null;
    }
    v.config = config;
    return new Parsed("version", v, List.of(Control.StatusRequest.class, Control.Lines.class));
  }

  private static @Nullable Parsed signal(Args a, @Nullable Path global, Set<String> seen) {
    var s = new SignalCommand();
    int positional = 0;
    while (a.more()) {
      if (!a.peek().startsWith("-")) {
        var p = a.next();
        switch (positional++) {
          case 0 -> s.signal = p;
          case 1 -> s.job = p;
          default -> {
            return null;
          }
        }
        continue;
      }
      switch (a.name()) {
        case "--wait" -> {
          if (a.hasInlineValue() || !seen.add("--wait")) {
            return null;
          }
          a.next();
          s.await = true;
        }
        case "-c", "--config" -> {
          if (!a.localConfig()) {
            return null;
          }
        }
        default -> {
          return null;
        }
      }
    }
    var config = config(global, a.local);
    if (positional != 2 || config == null) {
      return null;
    }
    s.config = config;
    return new Parsed(
        "signal",
        s,
        s.await
            ? List.of(
                Control.StatusRequest.class,
                Control.WakeupResponse.class,
                Control.RunRequest.class,
                Control.RunResponse.class)
            : List.of(Control.SignalRequest.class, Control.Lines.class));
  }

  /**
   * The config option for the file given before ({@code global}) or after the subcommand; {@code
   * null} if they name different files (picocli's path reports that).
   */
  private static @Nullable ConfigOption config(@Nullable Path global, @Nullable Path local) {
    if (ConfigOption.differ(global, local)) {
      return null;
    }
    return ConfigOption.byHand(local != null ? local : global);
  }

  /**
   * The arguments, consumed from the left; options as {@code --name value} or {@code --name=value}.
   */
  private static final class Args {
    private final String[] args;
    private int i;

    Args(String[] args) {
      this.args = args;
    }

    boolean more() {
      return i < args.length;
    }

    String peek() {
      return args[i];
    }

    String next() {
      return args[i++];
    }

    /** The option name of the next argument ({@code --job} of {@code --job=x}). */
    String name() {
      var s = args[i];
      int eq = s.indexOf('=');
      return s.startsWith("--") && eq > 0 ? s.substring(0, eq) : s;
    }

    boolean hasInlineValue() {
      return args[i].startsWith("--") && args[i].indexOf('=') > 0;
    }

    /**
     * Consumes an option and its value ({@code --name value} or {@code --name=value}); {@code null}
     * if the value is missing, empty or looks like an option.
     */
    @Nullable String value() {
      var s = next();
      String v;
      if (s.startsWith("--") && s.indexOf('=') > 0) {
        v = s.substring(s.indexOf('=') + 1);
      } else {
        if (!more()) {
          return null;
        }
        v = next();
      }
      return v.isEmpty() || v.startsWith("-") ? null : v;
    }

    /** The config file given after the subcommand, if any. */
    @Nullable Path local;

    /**
     * Consumes the subcommand's {@code --config}; {@code false} if its value is missing or it was
     * given before.
     */
    boolean localConfig() {
      if (local != null) {
        return false;
      }
      local = config();
      return local != null;
    }

    /** Consumes {@code -c F}, {@code --config F} or {@code --config=F}; {@code null} otherwise. */
    @Nullable Path config() {
      var n = name();
      if (!n.equals("-c") && !n.equals("--config")) {
        return null;
      }
      var v = value();
      return v == null ? null : Path.of(v);
    }
  }
}
