package dev.zrepl4j.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A whole zrepl 0.6/0.7 configuration file (with its {@code include:} files), parsed and checked.
 * Built only by {@link ConfigParser}; every value here has passed validation.
 *
 * @param file the main file it was read from
 * @param global the {@code global:} section (defaults filled in)
 * @param jobs every job of the main file and the included files, names unique
 */
public record DaemonConfig(Path file, Global global, List<Job> jobs) {
  public DaemonConfig {
    jobs = List.copyOf(jobs);
  }

  /** The job named {@code name}, if any. */
  public Optional<Job> job(String name) {
    return jobs.stream().filter(j -> j.name().equals(name)).findFirst();
  }

  /**
   * {@code global:}.
   *
   * @param logging the outlets; zrepl's default (stdout, warn, human) when none are given
   * @param monitoring at most one prometheus listener
   * @param controlSockpath {@code control.sockpath} (default /var/run/zrepl/control)
   * @param stdinserverSockdir {@code serve.stdinserver.sockdir} (default
   *     /var/run/zrepl/stdinserver)
   */
  public record Global(
      List<LogOutlet> logging,
      Optional<Monitoring> monitoring,
      Path controlSockpath,
      Path stdinserverSockdir) {
    public static final Path DEFAULT_CONTROL_SOCKPATH = Path.of("/var/run/zrepl/control");
    public static final Path DEFAULT_STDINSERVER_SOCKDIR = Path.of("/var/run/zrepl/stdinserver");

    public Global {
      logging = List.copyOf(logging);
    }

    /** zrepl's defaults. */
    public static Global defaults() {
      return new Global(
          List.of(LogOutlet.defaultStdout()),
          Optional.empty(),
          DEFAULT_CONTROL_SOCKPATH,
          DEFAULT_STDINSERVER_SOCKDIR);
    }
  }

  /**
   * One {@code global.logging} outlet.
   *
   * @param type stdout | syslog | tcp
   * @param level error | warn | info | debug
   * @param format human | logfmt | json
   * @param time stdout: print a timestamp
   * @param color stdout: colours
   * @param facility syslog: facility (default local0)
   * @param address tcp: host:port
   */
  public record LogOutlet(
      String type,
      String level,
      String format,
      boolean time,
      boolean color,
      String facility,
      Optional<String> address) {
    public static LogOutlet defaultStdout() {
      return new LogOutlet("stdout", "warn", "human", true, true, "local0", Optional.empty());
    }
  }

  /** {@code global.monitoring}: a prometheus listener. */
  public record Monitoring(String listen, boolean listenFreebind) {}
}
