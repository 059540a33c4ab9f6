package dev.zrepl4j.config;

import static dev.zrepl4j.config.Yaml.NOT_SUPPORTED;

import dev.zrepl4j.config.Yaml.Value;
import dev.zrepl4j.config.Yaml.YMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reads the {@code global:} section: {@code logging} outlets, {@code monitoring}, {@code
 * control.sockpath} and {@code serve.stdinserver.sockdir}. Stateless.
 */
final class GlobalParser {
  private static final List<String> SYSLOG_FACILITIES =
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

  private GlobalParser() {}

  static Optional<DaemonConfig.Global> global(YMap m) {
    var outlets = new ArrayList<DaemonConfig.LogOutlet>();
    var logging = m.list("logging");
    logging.ifPresent(
        l -> l.forEach(v -> v.map().flatMap(GlobalParser::logOutlet).ifPresent(outlets::add)));
    if (outlets.isEmpty() && (logging.isEmpty() || logging.get().isEmpty())) {
      outlets.add(DaemonConfig.LogOutlet.defaultStdout());
    }
    Optional<DaemonConfig.Monitoring> monitoring = Optional.empty();
    var mon = m.list("monitoring");
    if (mon.isPresent()) {
      var l = mon.get();
      for (int i = 0; i < l.size(); i++) {
        if (i > 0) {
          l.get(i).error("at most one monitoring endpoint is supported");
        }
        var mm = l.get(i).map();
        if (mm.isPresent()) {
          var got = monitoring(mm.get());
          if (i == 0) {
            monitoring = got;
          }
        }
      }
    }
    var sockpath = DaemonConfig.Global.DEFAULT_CONTROL_SOCKPATH;
    var control = m.map("control");
    if (control.isPresent()) {
      sockpath = control.get().get("sockpath").flatMap(Value::absolutePath).orElse(sockpath);
      control.get().finish();
    }
    var sockdir = DaemonConfig.Global.DEFAULT_STDINSERVER_SOCKDIR;
    var serve = m.map("serve");
    if (serve.isPresent()) {
      var stdin = serve.get().map("stdinserver");
      if (stdin.isPresent()) {
        sockdir = stdin.get().get("sockdir").flatMap(Value::absolutePath).orElse(sockdir);
        stdin.get().finish();
      }
      serve.get().finish();
    }
    m.finish();
    return Optional.of(new DaemonConfig.Global(outlets, monitoring, sockpath, sockdir));
  }

  /** One entry of {@code logging:}. */
  private static Optional<DaemonConfig.LogOutlet> logOutlet(YMap m) {
    var type = m.requiredString("type");
    var level = m.oneOf("level", List.of("error", "warn", "info", "debug")).orElse("warn");
    var format = m.oneOf("format", List.of("human", "logfmt", "json")).orElse("human");
    if (type.isEmpty()) {
      return Optional.empty();
    }
    var d = DaemonConfig.LogOutlet.defaultStdout();
    DaemonConfig.LogOutlet out;
    switch (type.get()) {
      case "stdout" -> {
        out =
            new DaemonConfig.LogOutlet(
                "stdout",
                level,
                format,
                m.bool("time", true),
                m.bool("color", true),
                d.facility(),
                Optional.empty());
      }
      case "syslog" -> {
        var facility = m.oneOf("facility", SYSLOG_FACILITIES).orElse("local0");
        var _ = m.get("retry_interval").flatMap(Value::duration);
        out =
            new DaemonConfig.LogOutlet(
                "syslog", level, format, false, false, facility, Optional.empty());
      }
      case "tcp" -> {
        var address = m.required("address");
        address.ifPresent(a -> a.string().ifPresent(s -> TransportParser.hostPort(a, s, true)));
        m.oneOf("net", List.of("tcp", "tcp4", "tcp6"));
        var _ = m.get("retry_interval").flatMap(Value::positiveDuration);
        m.get("tls").ifPresent(v -> v.error(NOT_SUPPORTED + " (TLS for the tcp log outlet)"));
        out =
            new DaemonConfig.LogOutlet(
                "tcp", level, format, false, false, d.facility(), address.flatMap(a -> a.string()));
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

  /** The one entry of {@code monitoring:}. */
  private static Optional<DaemonConfig.Monitoring> monitoring(YMap m) {
    var type = m.requiredString("type");
    if (type.isPresent() && !type.get().equals("prometheus")) {
      m.get("type")
          .ifPresent(
              v -> v.error("unknown monitoring type '" + type.get() + "' (expected prometheus)"));
      return Optional.empty();
    }
    var listen = m.required("listen");
    var ok =
        listen.flatMap(
            v ->
                v.string()
                    .flatMap(s -> TransportParser.hostPort(v, s, false))
                    .map(h -> v.string().orElse("")));
    boolean freebind = TransportParser.freebind(m);
    m.finish();
    return ok.map(l -> new DaemonConfig.Monitoring(l, freebind));
  }
}
