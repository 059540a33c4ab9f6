package dev.zrepl4j.daemon;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.UnsynchronizedAppenderBase;
import dev.zrepl4j.config.DaemonConfig;
import dev.zrepl4j.config.DaemonConfig.LogOutlet;
import dev.zrepl4j.rpc.transport.Tls;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.net.ssl.SSLContext;
import org.jspecify.annotations.Nullable;

/**
 * {@code global.logging} installed into a logback {@link LoggerContext}: one {@link OutletAppender}
 * per outlet, each with its own level, format and bounded buffer, plus the {@link LogStats} that
 * count every entry. Entries carry zrepl's {@code job} and {@code subsystem} fields ({@link
 * LogContext}). Closing detaches the outlets, writes what they still buffer (for a moment), and
 * closes their connections. Thread-safe.
 */
public final class LogOutlets implements AutoCloseable {
  /** How long {@link #close()} lets the outlets write what they buffer. */
  static final Duration CLOSE_GRACE = Duration.ofSeconds(2);

  /**
   * What the outlets write to besides their config.
   *
   * @param stdout the stdout outlet's stream
   * @param stdoutIsTerminal whether it is a terminal (zrepl: then the time is always printed, and
   *     colours only there)
   * @param syslogSockets the local syslog sockets to try, in order
   * @param zone the time zone of syslog's timestamps
   * @param buffer entries each outlet buffers before it drops
   */
  public record Options(
      PrintStream stdout,
      boolean stdoutIsTerminal,
      List<Path> syslogSockets,
      ZoneId zone,
      int buffer) {
    public Options {
      syslogSockets = List.copyOf(syslogSockets);
      if (buffer < 1) {
        throw new IllegalArgumentException("buffer must be at least 1, got " + buffer);
      }
    }

    /** The process's stdout, /dev/log (and Go's other places), the system's time zone. */
    public static Options system() {
      var console = System.console();
      return new Options(
          System.out,
          console != null && console.isTerminal(),
          SyslogSink.DEFAULT_SOCKETS,
          ZoneId.systemDefault(),
          OutletAppender.BUFFER);
    }
  }

  private final LoggerContext context;
  private final LogStats stats = new LogStats();
  private final List<OutletAppender> outlets = new CopyOnWriteArrayList<>();
  private final Counter counter = new Counter(stats);

  private LogOutlets(LoggerContext context) {
    this.context = context;
  }

  /**
   * Replaces every appender of {@code context}'s root logger with {@code config}'s outlets.
   * zrepl4j's own loggers log from debug up (so that {@link #stats()} counts every level, as
   * zrepl's prometheus outlet does); other libraries' from the most verbose outlet's level.
   *
   * @throws IOException if a tcp outlet's TLS files cannot be loaded (naming the file)
   */
  public static LogOutlets install(List<LogOutlet> config, LoggerContext context, Options options)
      throws IOException {
    var o = new LogOutlets(context);
    var appenders = new ArrayList<OutletAppender>();
    var least = LogEntry.Level.ERROR;
    for (int i = 0; i < config.size(); i++) {
      var c = config.get(i);
      var level = LogEntry.Level.of(c.level());
      if (level.compareTo(least) < 0) {
        least = level;
      }
      var format = LogFormat.of(c.format());
      int index = i;
      OutletAppender a =
          switch (c) {
            case LogOutlet.Stdout s ->
                new OutletAppender(
                    i,
                    level,
                    format,
                    new LogFormat.Metadata(
                        options.stdoutIsTerminal() || s.time(),
                        true,
                        options.stdoutIsTerminal() && s.color()),
                    new OutletSink.Stdout(options.stdout()),
                    Duration.ZERO,
                    o.stats.register(i, c.type()),
                    e -> o.reportFrom(index, e),
                    options.buffer());
            case LogOutlet.Syslog s ->
                new OutletAppender(
                    i,
                    level,
                    format,
                    LogFormat.Metadata.NONE,
                    new SyslogSink(options.syslogSockets(), s.facility(), "zrepl", options.zone()),
                    s.retryInterval(),
                    o.stats.register(i, c.type()),
                    e -> o.reportFrom(index, e),
                    options.buffer());
            case LogOutlet.Tcp t ->
                new OutletAppender(
                    i,
                    level,
                    format,
                    LogFormat.Metadata.ALL_NO_COLOR,
                    new TcpSink(t.net(), t.host(), t.port(), t.retryInterval(), tls(t)),
                    t.retryInterval(),
                    o.stats.register(i, c.type()),
                    e -> o.reportFrom(index, e),
                    options.buffer());
          };
      appenders.add(a);
    }
    Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
    root.detachAndStopAllAppenders();
    root.setLevel(logback(least));
    context.getLogger("dev.zrepl4j").setLevel(Level.DEBUG);
    o.counter.setContext(context);
    o.counter.start();
    root.addAppender(o.counter);
    for (var a : appenders) {
      a.setContext(context);
      a.start();
      o.outlets.add(a);
      root.addAppender(a);
    }
    return o;
  }

  private static @Nullable SSLContext tls(LogOutlet.Tcp t) throws IOException {
    DaemonConfig.OutletTls c = t.tls();
    if (c == null) {
      return null;
    }
    return Tls.context(c.ca(), c.cert(), c.key());
  }

  private static Level logback(LogEntry.Level l) {
    return switch (l) {
      case DEBUG -> Level.DEBUG;
      case INFO -> Level.INFO;
      case WARN -> Level.WARN;
      case ERROR -> Level.ERROR;
    };
  }

  /** The counts of entries and of drops. */
  public LogStats stats() {
    return stats;
  }

  /** Sends outlet {@code from}'s own report to every other outlet, and counts it. */
  private void reportFrom(int from, LogEntry e) {
    stats.count(e);
    for (var a : outlets) {
      if (a != outletAt(from)) {
        a.offer(e);
      }
    }
  }

  private OutletAppender outletAt(int index) {
    for (var a : outlets) {
      if (a.getName().equals("outlet-" + index)) {
        return a;
      }
    }
    throw new IllegalStateException("no outlet " + index);
  }

  /**
   * The entry of a logback event, with the job of the logging thread and the logger's subsystem.
   */
  static LogEntry entry(ILoggingEvent event) {
    var fields = new LinkedHashMap<String, String>();
    LogContext.job().ifPresent(j -> fields.put(LogEntry.JOB, j));
    var subsystem = LogContext.subsystem(event.getLoggerName());
    if (!subsystem.isEmpty()) {
      fields.put(LogEntry.SUBSYSTEM, subsystem);
    }
    var t = event.getThrowableProxy();
    if (t != null) {
      fields.put(LogEntry.ERR, ThrowableProxyUtil.asString(t).strip());
    }
    return new LogEntry(event.getInstant(), level(event), event.getFormattedMessage(), fields);
  }

  /** zrepl's level of a logback event (trace counts as debug; it is not logged by default). */
  static LogEntry.Level level(ILoggingEvent event) {
    return switch (event.getLevel().toInt()) {
      case Level.ERROR_INT -> LogEntry.Level.ERROR;
      case Level.WARN_INT -> LogEntry.Level.WARN;
      case Level.INFO_INT -> LogEntry.Level.INFO;
      default -> LogEntry.Level.DEBUG;
    };
  }

  /**
   * Detaches the outlets from the logger context, lets each write what it buffers for a moment, and
   * closes their connections. Idempotent.
   */
  @Override
  public void close() {
    Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
    for (var a : outlets) {
      root.detachAppender(a);
    }
    root.detachAppender(counter);
    long deadline = System.nanoTime() + CLOSE_GRACE.toNanos();
    for (var a : outlets) {
      a.close(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
    }
    outlets.clear();
    counter.stop();
  }

  /** Counts every entry once. */
  private static final class Counter extends UnsynchronizedAppenderBase<ILoggingEvent> {
    private final LogStats stats;

    Counter(LogStats stats) {
      this.stats = stats;
      setName("stats");
    }

    @Override
    protected void append(ILoggingEvent event) {
      // no message formatting here: most events are debug entries no outlet writes
      stats.count(
          LogContext.job().orElse(LogStats.NO_JOB),
          LogContext.subsystem(event.getLoggerName()),
          level(event));
    }
  }
}
