package dev.zrepl4j.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

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
   * @param controlSockpath {@code control.sockpath} (default /var/run/zrepl4j/control)
   * @param stdinserverSockdir {@code serve.stdinserver.sockdir} (default
   *     /var/run/zrepl4j/stdinserver)
   */
  public record Global(
      List<LogOutlet> logging,
      @Nullable Monitoring monitoring,
      Path controlSockpath,
      Path stdinserverSockdir,
      Duration zfsCommandTimeout,
      boolean directData) {
    public static final Path DEFAULT_CONTROL_SOCKPATH = Path.of("/var/run/zrepl4j/control");
    public static final Path DEFAULT_STDINSERVER_SOCKDIR = Path.of("/var/run/zrepl4j/stdinserver");

    /**
     * {@code zrepl4j_zfs_command_timeout} (our extension): how long a {@code zfs} command that does
     * not stream may run before it is killed and its operation fails (zrepl#791: a hung pool). Long
     * enough for a destroy or a listing of a large pool.
     */
    public static final Duration DEFAULT_ZFS_COMMAND_TIMEOUT = Duration.ofMinutes(30);

    public Global {
      logging = List.copyOf(logging);
    }

    /**
     * {@code zrepl4j_direct_data} (our extension, default true): offer the direct data path to
     * peers over plain TCP (docs/DIRECT-PATH.md: {@code zfs send} writes into a socket, {@code zfs
     * recv} reads from it); false keeps every stream framed through the daemon, as zrepl does.
     */
    public Global(
        List<LogOutlet> logging,
        @Nullable Monitoring monitoring,
        Path controlSockpath,
        Path stdinserverSockdir,
        Duration zfsCommandTimeout) {
      this(logging, monitoring, controlSockpath, stdinserverSockdir, zfsCommandTimeout, true);
    }

    /** zrepl's defaults. */
    public static Global defaults() {
      return new Global(
          List.of(LogOutlet.defaultStdout()),
          null,
          DEFAULT_CONTROL_SOCKPATH,
          DEFAULT_STDINSERVER_SOCKDIR,
          DEFAULT_ZFS_COMMAND_TIMEOUT);
    }
  }

  /**
   * One {@code global.logging} outlet: where log entries of at least {@link #level()} go, written
   * in {@link #format()}. zrepl allows at most one stdout and one syslog outlet.
   */
  public sealed interface LogOutlet {
    /** zrepl's {@code type:}: stdout, syslog or tcp. */
    String type();

    /** The least severe level written: error, warn, info or debug. */
    String level();

    /** human, logfmt or json. */
    String format();

    /** zrepl's default outlet (used when {@code global.logging} is absent or empty). */
    static LogOutlet defaultStdout() {
      return new Stdout("warn", "human", true, true);
    }

    /**
     * {@code type: stdout}.
     *
     * @param time print a timestamp even when stdout is not a terminal (on a terminal it is always
     *     printed, as in zrepl)
     * @param color colour the level and prefix fields when stdout is a terminal
     */
    record Stdout(String level, String format, boolean time, boolean color) implements LogOutlet {
      @Override
      public String type() {
        return "stdout";
      }
    }

    /**
     * {@code type: syslog}: datagrams to the local syslog socket ({@code /dev/log}).
     *
     * @param facility the syslog facility name (default local0)
     * @param retryInterval how long to wait before trying again after the socket failed
     */
    record Syslog(String level, String format, String facility, Duration retryInterval)
        implements LogOutlet {
      @Override
      public String type() {
        return "syslog";
      }
    }

    /**
     * {@code type: tcp}: one line per entry over a TCP (optionally TLS) connection.
     *
     * @param net tcp, tcp4 or tcp6 (which address family {@code host} may resolve to)
     * @param host the host of {@code address}
     * @param port the port of {@code address}
     * @param retryInterval the dial and write timeout, and the wait before reconnecting
     * @param tls {@code tls:}, if given
     */
    record Tcp(
        String level,
        String format,
        String net,
        String host,
        int port,
        Duration retryInterval,
        @Nullable OutletTls tls)
        implements LogOutlet {
      @Override
      public String type() {
        return "tcp";
      }
    }
  }

  /**
   * {@code tls:} of a tcp log outlet: this client's certificate and key, and the CA the log
   * server's certificate must chain to (its certificate must also name the outlet's host).
   */
  public record OutletTls(Path ca, Path cert, Path key) {}

  /** {@code global.monitoring}: a prometheus listener. */
  public record Monitoring(String listen, boolean listenFreebind) {}
}
