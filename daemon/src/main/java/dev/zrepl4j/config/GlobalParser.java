package dev.zrepl4j.config;

import dev.zrepl4j.config.Yaml.Value;
import dev.zrepl4j.config.Yaml.YMap;
import java.util.List;
import java.util.Optional;

/**
 * Reads the {@code global:} section: {@code logging} outlets, {@code monitoring}, {@code
 * control.sockpath}, {@code serve.stdinserver.sockdir} and our {@code zrepl4j_zfs_command_timeout}
 * and {@code zrepl4j_direct_data}. Stateless.
 */
final class GlobalParser {
  private GlobalParser() {}

  static Optional<DaemonConfig.Global> global(YMap m, TransportParser transports) {
    var outlets =
        m.list("logging")
            .map(l -> LogOutletParser.outlets(l, transports))
            .orElse(List.of(DaemonConfig.LogOutlet.defaultStdout()));
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
    var zfsTimeout =
        m.duration("zrepl4j_zfs_command_timeout", DaemonConfig.Global.DEFAULT_ZFS_COMMAND_TIMEOUT);
    boolean directData = m.bool("zrepl4j_direct_data", true);
    m.finish();
    return Optional.of(
        new DaemonConfig.Global(
            outlets, monitoring.orElse(null), sockpath, sockdir, zfsTimeout, directData));
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
