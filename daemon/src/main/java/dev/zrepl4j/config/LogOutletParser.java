package dev.zrepl4j.config;

import dev.zrepl4j.config.DaemonConfig.LogOutlet;
import dev.zrepl4j.config.Yaml.Value;
import dev.zrepl4j.config.Yaml.YMap;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reads {@code global.logging} (zrepl's {@code config.LoggingOutletEnum}): stdout, syslog and tcp
 * outlets with every key zrepl defines for them; {@code hide_fields} and {@code type: file} (zrepl
 * after 0.7) are refused as not supported yet. Problems are recorded on the values, as everywhere
 * in {@link ConfigParser}. Not thread-safe (one parse).
 */
final class LogOutletParser {
  static final Duration DEFAULT_RETRY_INTERVAL = Duration.ofSeconds(10);
  static final List<String> LEVELS = List.of("error", "warn", "info", "debug");
  static final List<String> FORMATS = List.of("human", "logfmt", "json");
  static final List<String> FACILITIES =
      List.of(
          "kern",
          "user",
          "mail",
          "daemon",
          "auth",
          "syslog",
          "lpr",
          "news",
          "uucp",
          "cron",
          "authpriv",
          "ftp",
          "local0",
          "local1",
          "local2",
          "local3",
          "local4",
          "local5",
          "local6",
          "local7");

  private final TransportParser transports;

  private LogOutletParser(TransportParser transports) {
    this.transports = transports;
  }

  /**
   * The outlets of the {@code logging:} list, in order; zrepl's default outlet when the list is
   * empty and had no broken entry.
   *
   * @param transports reads {@code address} and the {@code tls} files (and, for configcheck, checks
   *     the files) as for a {@code connect:}
   */
  static List<LogOutlet> outlets(List<Value> entries, TransportParser transports) {
    var p = new LogOutletParser(transports);
    var out = new ArrayList<LogOutlet>();
    int stdout = 0;
    int syslog = 0;
    for (var v : entries) {
      var o = v.map().flatMap(p::outlet);
      if (o.isEmpty()) {
        continue;
      }
      switch (o.get()) {
        case LogOutlet.Stdout s -> {
          if (++stdout > 1) {
            v.error("can only define one 'stdout' outlet");
          }
        }
        case LogOutlet.Syslog s -> {
          if (++syslog > 1) {
            v.error("can only define one 'syslog' outlet");
          }
        }
        case LogOutlet.Tcp t -> {}
      }
      out.add(o.get());
    }
    if (entries.isEmpty()) {
      out.add(LogOutlet.defaultStdout());
    }
    return out;
  }

  private Optional<LogOutlet> outlet(YMap m) {
    var type = m.requiredString("type");
    var level = m.oneOf("level", LEVELS).orElse("warn");
    var format = m.oneOf("format", FORMATS).orElse("human");
    m.get("hide_fields").ifPresent(v -> v.error("not supported yet (hide_fields)"));
    if (type.isEmpty()) {
      return Optional.empty();
    }
    LogOutlet out;
    switch (type.get()) {
      case "stdout" ->
          out = new LogOutlet.Stdout(level, format, m.bool("time", true), m.bool("color", true));
      case "syslog" -> {
        var facility = m.oneOf("facility", FACILITIES).orElse("local0");
        var retry = m.duration("retry_interval", DEFAULT_RETRY_INTERVAL);
        out = new LogOutlet.Syslog(level, format, facility, retry);
      }
      case "tcp" -> {
        var address =
            m.required("address")
                .flatMap(a -> a.string().flatMap(s -> TransportParser.hostPort(a, s, true)));
        var net = m.oneOf("net", List.of("tcp", "tcp4", "tcp6")).orElse("tcp");
        var retry = m.duration("retry_interval", DEFAULT_RETRY_INTERVAL);
        var tlsMap = m.map("tls");
        Optional<DaemonConfig.OutletTls> tls = Optional.empty();
        boolean tlsOk = true;
        if (tlsMap.isPresent()) {
          tls = tls(tlsMap.get());
          tlsOk = tls.isPresent();
        }
        if (address.isEmpty() || !tlsOk) {
          m.finish();
          return Optional.empty();
        }
        out =
            new LogOutlet.Tcp(
                level,
                format,
                net,
                address.get().host(),
                address.get().port(),
                retry,
                tls.orElse(null));
      }
      case "file" -> {
        m.get("type").ifPresent(v -> v.error("not supported yet (the file outlet of zrepl 0.8)"));
        return Optional.empty();
      }
      default -> {
        m.get("type")
            .ifPresent(
                v ->
                    v.error(
                        "unknown logging outlet type '"
                            + type.get()
                            + "' (expected stdout, syslog or tcp)"));
        return Optional.empty();
      }
    }
    m.finish();
    return Optional.of(out);
  }

  private Optional<DaemonConfig.OutletTls> tls(YMap m) {
    var files = transports.tlsFiles(m);
    m.finish();
    return files.map(f -> new DaemonConfig.OutletTls(f.ca(), f.cert(), f.key()));
  }
}
