package dev.zrepl4j.cli;

import dev.zrepl4j.config.ConfigException;
import dev.zrepl4j.daemon.Daemon;
import dev.zrepl4j.daemon.LogEntryCounter;
import java.time.Clock;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code zrepl4j daemon}: runs every job of the config until SIGTERM or SIGINT, then shuts down
 * gracefully (runs in flight aborted, children stopped; the next start resumes).
 */
@Command(name = "daemon", description = "Run the jobs of the config until SIGTERM/SIGINT.")
final class DaemonCommand implements Callable<Integer> {
  @Mixin ConfigOption config = new ConfigOption();

  @Override
  public Integer call() throws Exception {
    dev.zrepl4j.config.DaemonConfig cfg;
    try {
      cfg = config.load();
    } catch (ConfigException e) {
      System.err.println(e.getMessage());
      return 1;
    }
    Logging.configure(cfg.global().logging());
    // zrepl_daemon_log_entries: the logging backend counts into it (the log outlets' work)
    var logEntries = new LogEntryCounter();
    var daemon = Daemon.start(cfg, HostZfs.open(), Clock.systemUTC(), Main.version(), logEntries);
    var hook = Thread.ofPlatform().name("shutdown").unstarted(daemon::close);
    Runtime.getRuntime().addShutdownHook(hook);
    System.err.println(
        "zrepl4j daemon running "
            + cfg.jobs().size()
            + " jobs from "
            + cfg.file()
            + "; control socket "
            + cfg.global().controlSockpath());
    daemon.awaitClosed();
    return 0;
  }
}
