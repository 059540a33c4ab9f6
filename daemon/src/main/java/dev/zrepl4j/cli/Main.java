package dev.zrepl4j.cli;

import dev.zrepl4j.config.ConfigException;
import java.io.IOException;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

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
      StdinserverCommand.class,
      TestCommand.class,
      Main.VersionCommand.class,
      DemoCommand.class
    })
public final class Main implements Callable<Integer> {

  @Override
  public Integer call() {
    new CommandLine(this).usage(System.out);
    return 2;
  }

  public static void main(String[] args) {
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
        .setExecutionExceptionHandler(
            (e, cmd, parsed) -> {
              var msg =
                  e instanceof ConfigException
                          || e instanceof IOException
                          || e instanceof IllegalArgumentException
                      ? e.getMessage()
                      : e.toString();
              System.err.println("zrepl4j " + cmd.getCommandName() + ": " + msg);
              return 1;
            });
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

  @Command(name = "version", description = "Print the version of this program.")
  static final class VersionCommand implements Callable<Integer> {
    @Override
    public Integer call() {
      System.out.println(
          "zrepl4j version="
              + version()
              + " java="
              + Runtime.version()
              + " os="
              + System.getProperty("os.name"));
      return 0;
    }
  }
}
