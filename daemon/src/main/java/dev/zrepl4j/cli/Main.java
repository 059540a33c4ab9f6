package dev.zrepl4j.cli;

import dev.zrepl4j.config.ConfigException;
import dev.zrepl4j.daemon.Control;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The {@code zrepl4j} command: entry point of the daemon and of every administrative command. */
@Command(
    name = "zrepl4j",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "ZFS snapshot and replication daemon.",
    subcommands = {
      DaemonCommand.class,
      ConfigcheckCommand.class,
      StatusCommand.class,
      SignalCommand.class,
      PruneCommand.class,
      VerifyCommand.class,
      StdinserverCommand.class,
      TestCommand.class,
      ZfsAbstractionCommand.class,
      Main.VersionCommand.class,
      DemoCommand.class
    })
public final class Main implements Callable<Integer> {

  /** zrepl's global {@code --config} before the subcommand ({@code zrepl4j --config F daemon}). */
  @Option(
      names = {"-c", "--config"},
      paramLabel = "FILE",
      description =
          "The config file, for every subcommand that reads one (as zrepl writes it: zrepl4j"
              + " --config FILE daemon). The same option after the subcommand must name the same"
              + " file.")
  @Nullable Path config;

  @Override
  public Integer call() {
    new CommandLine(this).usage(System.out);
    return 2;
  }

  public static void main(String[] args) {
    var quick = QuickCommands.parse(args);
    if (quick != null) {
      // nothing on their way logs above info, and the stderr outlet shows warnings only: no
      // logging backend to start (logback and the outlets cost ~20 ms of CPU before the command)
      System.setProperty("slf4j.provider", "org.slf4j.helpers.NOP_FallbackServiceProvider");
      System.setProperty("slf4j.internal.verbosity", "WARN"); // (its "loading provider" line)
      System.exit(QuickCommands.run(quick));
    }
    int status;
    try (var logging = Logging.defaults()) {
      status = commandLine().execute(args);
    }
    System.exit(status);
  }

  /**
   * The command line, with errors of a command printed as one clear message (the config's problems
   * one per line) and exit status 1, not as a stack trace.
   */
  public static CommandLine commandLine() {
    return new CommandLine(new Main())
        .setExecutionExceptionHandler((e, cmd, parsed) -> failed(cmd.getCommandName(), e));
  }

  /** Prints the error of command {@code name} as one clear message; returns exit status 1. */
  static int failed(String name, Exception e) {
    var msg =
        e instanceof ConfigException
                || e instanceof IOException
                || e instanceof IllegalArgumentException
            ? e.getMessage()
            : e.toString();
    System.err.println("zrepl4j " + name + ": " + msg);
    return 1;
  }

  static String version() {
    var v = Main.class.getPackage().getImplementationVersion();
    return v == null ? "dev" : v;
  }

  /** Supplies {@code --version}. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"zrepl4j " + version()};
    }
  }

  /**
   * {@code zrepl4j version [--show client|daemon]}: as zrepl's, this program's version ({@code
   * client:}) and the running daemon's ({@code server:}); a daemon that cannot be reached is an
   * error (exit 1) after the client's line; different versions a warning on stderr.
   */
  @Command(
      name = "version",
      description = "Print the version of this program and of the running daemon.")
  static final class VersionCommand implements Callable<Integer> {
    @Mixin ConfigOption config = new ConfigOption();

    @Option(
        names = "--show",
        paramLabel = "WHICH",
        description = "client (only this program) or daemon (only the running daemon).")
    @Nullable String show;

    @Override
    public Integer call() throws Exception {
      if (show != null && !show.equals("client") && !show.equals("daemon")) {
        throw new IllegalArgumentException("--show " + show + ": use client or daemon");
      }
      var client = version();
      if (show == null || show.equals("client")) {
        System.out.println(
            "client: zrepl4j version="
                + client
                + " java="
                + Runtime.version()
                + " os="
                + System.getProperty("os.name"));
      }
      if (show != null && show.equals("client")) {
        return 0;
      }
      String daemon;
      try {
        daemon =
            ControlClient.call(
                    config.load(), "version", new Control.StatusRequest(""), Control.Lines.class)
                .lines()
                .getFirst();
      } catch (IOException | ConfigException | IllegalArgumentException e) {
        System.out.flush();
        System.err.println("server: not reachable: " + e.getMessage());
        return 1;
      }
      System.out.println("server: zrepl4j version=" + daemon);
      if (show == null && !daemon.equals(client)) {
        System.err.println(
            "WARNING: client version "
                + client
                + " != daemon version "
                + daemon
                + ": restart the daemon to run this version");
      }
      return 0;
    }
  }
}
