package dev.zrepl4j.config;

import static dev.zrepl4j.config.Yaml.NOT_SUPPORTED;

import dev.zrepl4j.config.Yaml.Value;
import dev.zrepl4j.config.Yaml.YMap;
import dev.zrepl4j.rpc.transport.Identities;
import dev.zrepl4j.rpc.transport.Tls;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Reads a job's {@code connect:} and {@code serve:} sections: addresses, TLS files, client
 * identities and the tcp {@code clients:} map. With {@code checkFiles} (configcheck) it also loads
 * each TLS file with {@link Tls}'s own checks, the ones the daemon's transports run when they
 * start. Stateless apart from that flag; not thread-safe (it reports into one parse's problems).
 */
final class TransportParser {
  static final Duration DEFAULT_DIAL_TIMEOUT = Duration.ofSeconds(10);
  static final Duration DEFAULT_LOCAL_DIAL_TIMEOUT = Duration.ofSeconds(2);
  static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);

  private final boolean checkFiles;

  /**
   * @param checkFiles whether to load and check the TLS {@code ca}, {@code cert} and {@code key}
   *     files
   */
  TransportParser(boolean checkFiles) {
    this.checkFiles = checkFiles;
  }

  /** host and port of {@code host:port}, {@code :port} or {@code [v6]:port}. */
  record HostPort(String host, int port) {}

  /** Go's {@code net.SplitHostPort} plus a numeric port; reports at {@code v}. */
  static Optional<HostPort> hostPort(Value v, String s, boolean hostRequired) {
    var h = v.attempt(() -> splitHostPort(s));
    if (h.isPresent() && hostRequired && h.get().host().isEmpty()) {
      v.error("invalid address '" + s + "': missing host");
      return Optional.empty();
    }
    return h;
  }

  /**
   * Splits {@code s} like Go's {@code net.SplitHostPort} and checks the port.
   *
   * @throws IllegalArgumentException {@code invalid address 'S': why}
   */
  static HostPort splitHostPort(String s) {
    String host;
    String port;
    if (s.startsWith("[")) {
      int end = s.indexOf(']');
      if (end < 0) {
        throw invalidAddress(s, "missing ']'");
      }
      host = s.substring(1, end);
      if (end + 1 >= s.length() || s.charAt(end + 1) != ':') {
        throw invalidAddress(s, "missing port (expected [HOST]:PORT)");
      }
      port = s.substring(end + 2);
      if (!host.contains(":")) {
        throw invalidAddress(s, "brackets are only for IPv6 addresses");
      }
    } else {
      int colon = s.lastIndexOf(':');
      if (colon < 0) {
        throw invalidAddress(s, "missing port (expected HOST:PORT or :PORT)");
      }
      host = s.substring(0, colon);
      port = s.substring(colon + 1);
      if (host.contains(":")) {
        throw invalidAddress(s, "too many colons (write an IPv6 address as [ADDR]:PORT)");
      }
    }
    if (!port.matches("\\d{1,5}") || Integer.parseInt(port) > 65535) {
      throw invalidAddress(s, "port '" + port + "' must be a number from 0 to 65535");
    }
    return new HostPort(host, Integer.parseInt(port));
  }

  private static IllegalArgumentException invalidAddress(String s, String why) {
    return new IllegalArgumentException("invalid address '" + s + "': " + why);
  }

  /** {@code connect:} of a push or pull job. */
  Optional<Connect> connect(YMap m) {
    var type = m.requiredString("type");
    if (type.isEmpty()) {
      return Optional.empty();
    }
    int before = m.problems().count();
    Optional<Connect> out;
    switch (type.get()) {
      case "tcp" -> {
        var addr = address(m);
        var dial = m.duration("dial_timeout", DEFAULT_DIAL_TIMEOUT);
        out = addr.map(a -> new Connect.Tcp(a.host(), a.port(), dial));
      }
      case "tls" -> {
        var addr = address(m);
        var files = tlsFiles(m);
        var serverCn = m.requiredString("server_cn");
        var dial = m.duration("dial_timeout", DEFAULT_DIAL_TIMEOUT);
        out =
            addr.isEmpty() || files.isEmpty() || serverCn.isEmpty()
                ? Optional.empty()
                : Optional.of(
                    new Connect.Tls(
                        addr.get().host(),
                        addr.get().port(),
                        files.get().ca(),
                        files.get().cert(),
                        files.get().key(),
                        serverCn.get(),
                        dial));
      }
      case "ssh+stdinserver" -> {
        var host = m.requiredString("host").filter(h -> m.nonEmpty("host", h));
        var user = m.requiredString("user").filter(u -> m.nonEmpty("user", u));
        var port =
            m.required("port")
                .flatMap(
                    v ->
                        v.integer()
                            .filter(
                                p -> {
                                  if (p < 1 || p > 65535) {
                                    v.error("port must be from 1 to 65535, got " + p);
                                    return false;
                                  }
                                  return true;
                                }));
        var identity = m.required("identity_file").flatMap(Value::nonEmptyPath);
        var options = m.get("options").flatMap(Value::strings).orElse(List.of());
        // zrepl parses these but never uses them
        var _ = m.get("transport_open_command").flatMap(Value::strings);
        var _ = m.get("ssh_command").flatMap(Value::string);
        var dial = m.duration("dial_timeout", DEFAULT_DIAL_TIMEOUT);
        out =
            host.isEmpty() || user.isEmpty() || port.isEmpty() || identity.isEmpty()
                ? Optional.empty()
                : Optional.of(
                    new Connect.Ssh(
                        host.get(), user.get(), port.get(), identity.get(), options, dial));
      }
      case "local" -> {
        var listener =
            m.requiredString("listener_name").filter(l -> m.nonEmpty("listener_name", l));
        var identity =
            m.required("client_identity")
                .flatMap(v -> v.string().flatMap(s -> clientIdentity(v, s)));
        var dial = m.duration("dial_timeout", DEFAULT_LOCAL_DIAL_TIMEOUT);
        out =
            listener.isEmpty() || identity.isEmpty()
                ? Optional.empty()
                : Optional.of(new Connect.Local(listener.get(), identity.get(), dial));
      }
      default -> {
        m.get("type")
            .ifPresent(
                v ->
                    v.error(
                        "unknown connect type '"
                            + type.get()
                            + "' (expected tcp, tls, ssh+stdinserver or local)"));
        return Optional.empty();
      }
    }
    m.finish();
    return m.problems().count() > before ? Optional.empty() : out;
  }

  /** {@code serve:} of a sink or source job. */
  Optional<Serve> serve(YMap m) {
    var type = m.requiredString("type");
    if (type.isEmpty()) {
      return Optional.empty();
    }
    int before = m.problems().count();
    Optional<Serve> out;
    switch (type.get()) {
      case "tcp" -> {
        var listen = listen(m);
        var freebind = freebind(m);
        var clients = m.requiredMap("clients").flatMap(TransportParser::tcpClients);
        out =
            listen.isEmpty() || clients.isEmpty()
                ? Optional.empty()
                : Optional.of(
                    new Serve.Tcp(
                        listen.get().host(), listen.get().port(), freebind, clients.get()));
      }
      case "tls" -> {
        var listen = listen(m);
        var freebind = freebind(m);
        var files = tlsFiles(m);
        var cns = identities(m, "client_cns");
        var handshake = m.duration("handshake_timeout", DEFAULT_HANDSHAKE_TIMEOUT);
        out =
            listen.isEmpty() || files.isEmpty() || cns.isEmpty()
                ? Optional.empty()
                : Optional.of(
                    new Serve.Tls(
                        listen.get().host(),
                        listen.get().port(),
                        freebind,
                        files.get().ca(),
                        files.get().cert(),
                        files.get().key(),
                        cns.get(),
                        handshake));
      }
      case "stdinserver" -> out = identities(m, "client_identities").map(Serve.Stdinserver::new);
      case "local" ->
          out =
              m.requiredString("listener_name")
                  .filter(l -> m.nonEmpty("listener_name", l))
                  .map(Serve.Local::new);
      default -> {
        m.get("type")
            .ifPresent(
                v ->
                    v.error(
                        "unknown serve type '"
                            + type.get()
                            + "' (expected tcp, tls, stdinserver or local)"));
        return Optional.empty();
      }
    }
    m.finish();
    return m.problems().count() > before ? Optional.empty() : out;
  }

  /** {@code listen_freebind}: false, or "not supported yet". */
  static boolean freebind(YMap m) {
    var fb = m.get("listen_freebind");
    boolean b = fb.flatMap(Value::bool).orElse(false);
    if (b) {
      fb.orElseThrow().error(NOT_SUPPORTED + " (listen_freebind: true)");
    }
    return b;
  }

  private static Optional<HostPort> address(YMap m) {
    return m.required("address").flatMap(v -> v.string().flatMap(s -> hostPort(v, s, true)));
  }

  private static Optional<HostPort> listen(YMap m) {
    return m.required("listen").flatMap(v -> v.string().flatMap(s -> hostPort(v, s, false)));
  }

  /** The {@code ca}, {@code cert} and {@code key} of a tls connect or serve. */
  record TlsFiles(Path ca, Path cert, Path key) {}

  /**
   * Reads {@code ca}, {@code cert} and {@code key}; with {@link #checkFiles}, loads each with
   * {@link Tls}'s checks (and that the key belongs to the certificate) and reports a problem at the
   * key whose file is bad.
   */
  Optional<TlsFiles> tlsFiles(YMap m) {
    var ca = tlsFile(m, "ca", Tls::checkCa);
    var cert = tlsFile(m, "cert", Tls::checkCert);
    var key = tlsFile(m, "key", Tls::checkKey);
    if (ca.isEmpty() || cert.isEmpty() || key.isEmpty()) {
      return Optional.empty();
    }
    if (checkFiles
        && !checked(m.get("key").orElseThrow(), () -> Tls.checkPair(cert.get(), key.get()))) {
      return Optional.empty();
    }
    return Optional.of(new TlsFiles(ca.get(), cert.get(), key.get()));
  }

  /** A check of {@link Tls} that throws an IOException naming the file. */
  private interface TlsCheck {
    void run() throws IOException;
  }

  /** One TLS file key; with {@link #checkFiles}, also {@code check} of its file. */
  private Optional<Path> tlsFile(YMap m, String key, PathCheck check) {
    var v = m.required(key);
    var p = v.flatMap(Value::nonEmptyPath);
    if (checkFiles && p.isPresent() && !checked(v.get(), () -> check.run(p.get()))) {
      return Optional.empty();
    }
    return p;
  }

  /** A check of one file by {@link Tls}. */
  private interface PathCheck {
    void run(Path file) throws IOException;
  }

  /** Runs {@code check}, reporting its IOException (which names the file) at {@code at}. */
  private static boolean checked(Value at, TlsCheck check) {
    try {
      check.run();
      return true;
    } catch (IOException e) {
      at.error(String.valueOf(e.getMessage()));
      return false;
    }
  }

  /** {@code id} if it is a valid client identity ({@link Identities#problem}); reports at v. */
  private static Optional<String> clientIdentity(Value v, String identity) {
    var bad = Identities.problem(identity);
    if (bad.isPresent()) {
      v.error(
          "invalid client identity '"
              + identity
              + "': "
              + bad.get()
              + " (it must be a valid ZFS dataset name component)");
      return Optional.empty();
    }
    return Optional.of(identity);
  }

  /** A non-empty list of distinct client identities. */
  private static Optional<List<String>> identities(YMap m, String key) {
    return m.required(key)
        .flatMap(
            v ->
                v.list()
                    .flatMap(
                        l -> {
                          var out = new ArrayList<String>();
                          boolean ok = true;
                          for (var item : l) {
                            var id = item.string().flatMap(s -> clientIdentity(item, s));
                            ok &= id.isPresent();
                            if (id.isPresent()) {
                              if (out.contains(id.get())) {
                                item.error("duplicate client identity '" + id.get() + "'");
                                ok = false;
                              }
                              out.add(id.get());
                            }
                          }
                          if (ok && out.isEmpty()) {
                            v.error("must list at least one client");
                            ok = false;
                          }
                          return ok ? Optional.of(out) : Optional.empty();
                        }));
  }

  /** {@code clients:} of a tcp serve: IP or CIDR to identity. */
  private static Optional<Map<String, String>> tcpClients(YMap m) {
    var out = new LinkedHashMap<String, String>();
    boolean ok = true;
    for (var k : m.keys()) {
      var keyNode = m.keyNode(k).orElseThrow();
      var cidr = cidrProblem(k);
      if (cidr.isPresent()) {
        keyNode.error("invalid client address '" + k + "': " + cidr.get());
        ok = false;
      }
      var v = m.get(k);
      if (v.isEmpty()) {
        keyNode.error("missing client identity");
        ok = false;
        continue;
      }
      var id = v.get().string();
      if (id.isEmpty()) {
        ok = false;
        continue;
      }
      if (k.contains("/")) {
        if (!id.get().contains("*")) {
          v.get()
              .error(
                  "the identity of a CIDR client must contain '*' (replaced by the client's"
                      + " address), got '"
                      + id.get()
                      + "'");
          ok = false;
          continue;
        }
        if (clientIdentity(v.get(), id.get().replace("*", "0")).isEmpty()) {
          ok = false;
          continue;
        }
      } else if (clientIdentity(v.get(), id.get()).isEmpty()) {
        ok = false;
        continue;
      }
      out.put(k, id.get());
    }
    if (ok && out.isEmpty()) {
      m.self().error("must list at least one client");
      ok = false;
    }
    return ok ? Optional.of(out) : Optional.empty();
  }

  /** Why {@code s} is not an IP address or CIDR, if it is not. */
  static Optional<String> cidrProblem(String s) {
    var slash = s.indexOf('/');
    var ip = slash < 0 ? s : s.substring(0, slash);
    if (!ip.matches("[0-9.]+|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")) {
      return Optional.of("not an IP address or CIDR");
    }
    InetAddress addr;
    try {
      addr = InetAddress.ofLiteral(ip);
    } catch (IllegalArgumentException e) {
      return Optional.of("not an IP address");
    }
    if (slash >= 0) {
      var bits = s.substring(slash + 1);
      int max = addr.getAddress().length * 8;
      if (!bits.matches("\\d{1,3}") || Integer.parseInt(bits) > max) {
        return Optional.of("prefix length '" + bits + "' must be from 0 to " + max);
      }
    }
    return Optional.empty();
  }
}
