package dev.zrepl4j.cli;

import dev.zrepl4j.config.ConfigException;
import dev.zrepl4j.config.DaemonConfig;
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
    DaemonConfig cfg;
    try {
      cfg = config.load();
    } catch (ConfigException e) {
      System.err.println(e.getMessage());
      return 1;
    }
    var outlets = Logging.configure(cfg.global().logging());
    Daemon daemon;
    try {
      daemon =
          Daemon.start(
              cfg,
              HostZfs.open().withCommandTimeout(cfg.global().zfsCommandTimeout()),
              Clock.systemUTC(),
              Main.version(),
              new LogEntryCounter(outlets.stats()));
    } catch (Exception e) {
      outlets.close();
      throw e;
    }
    var hook =
        Thread.ofPlatform()
            .name("shutdown")
            .unstarted(
                () -> {
                  daemon.close();
                  outlets.close(); // last: the daemon's shutdown lines reach every outlet
                });
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
