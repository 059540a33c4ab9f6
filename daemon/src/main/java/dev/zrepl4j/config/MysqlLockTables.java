package dev.zrepl4j.config;

import dev.zrepl4j.replication.snapshotting.Snapshotter;
import dev.zrepl4j.zfs.DatasetPath;
import java.io.IOException;
import java.math.BigDecimal;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.mariadb.jdbc.Driver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * zrepl's {@code mysql-lock-tables} hook: {@code FLUSH TABLES WITH READ LOCK} before the snapshot
 * and {@code UNLOCK TABLES} after, on one connection held across the snapshot (closing it releases
 * the lock too). In a dry run it only connects. Works with MariaDB and MySQL servers. Thread-safe:
 * each run opens its own connection, which its post edge closes.
 *
 * <p>The DSN is go-sql-driver/mysql's, as zrepl passes it to {@code mysql.ParseDSN}: {@code
 * [user[:password]@][tcp[(host[:port])]]/[dbname][?param=value&...]}, default address {@code
 * 127.0.0.1:3306}, port 3306. Parameters: {@code timeout}, {@code readTimeout}, {@code
 * writeTimeout} (Go durations), {@code tls} ({@code true}, {@code false}, {@code skip-verify},
 * {@code preferred}); the driver's other documented parameters are accepted and do not matter to
 * these two statements; any other is a session variable, as in the Go driver. Not supported: the
 * {@code unix} protocol and custom TLS config names.
 */
public final class MysqlLockTables implements Snapshotter.PreSnapshot {
  private static final Logger log = LoggerFactory.getLogger(MysqlLockTables.class);

  /** The boolean go-sql-driver parameters among {@link #IGNORED} (their values are checked). */
  private static final Set<String> BOOLEANS =
      Set.of(
          "allowAllFiles",
          "allowCleartextPasswords",
          "allowFallbackToPlaintext",
          "allowNativePasswords",
          "allowOldPasswords",
          "checkConnLiveness",
          "clientFoundRows",
          "columnsWithAlias",
          "interpolateParams",
          "multiStatements",
          "parseTime",
          "rejectReadOnly");

  /** go-sql-driver parameters with no bearing on FLUSH TABLES / UNLOCK TABLES. */
  private static final Set<String> IGNORED =
      Stream.concat(
              BOOLEANS.stream(),
              Stream.of(
                  "charset",
                  "collation",
                  "connectionAttributes",
                  "loc",
                  "maxAllowedPacket",
                  "serverPubKey",
                  "timeTruncate"))
          .collect(Collectors.toUnmodifiableSet());

  private static final Pattern GO_DURATION =
      Pattern.compile("([0-9]*(?:\\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)");

  private final JdbcTarget target;
  private final Duration timeout;

  private MysqlLockTables(JdbcTarget target, Duration timeout) {
    this.target = target;
    this.timeout = timeout;
  }

  /**
   * Checks {@code dsn}; connects only when run.
   *
   * @param timeout bounds connecting and each statement
   * @throws IllegalArgumentException if the DSN is invalid (the message never holds its password)
   */
  public static MysqlLockTables of(String dsn, Duration timeout) {
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive: " + timeout);
    }
    return new MysqlLockTables(parse(dsn, timeout), timeout);
  }

  /** The server, user and database, without the password: {@code user@tcp(host:port)/dbname}. */
  public String target() {
    return target.display();
  }

  @Override
  public Snapshotter.PostSnapshot run(DatasetPath fs, String snapshot, boolean dryRun)
      throws IOException {
    Connection c;
    Statement st;
    try {
      c = connect();
    } catch (SQLException e) {
      throw failure(e);
    }
    try {
      st = c.createStatement();
      st.setQueryTimeout(JdbcTarget.seconds(timeout));
      if (dryRun) {
        st.execute("SELECT 1");
        c.close();
        log.debug("mysql-lock-tables {}: connected (dry run: no lock) for {}", target, fs);
        return Snapshotter.PostSnapshot.NONE;
      }
      st.execute("FLUSH TABLES WITH READ LOCK");
    } catch (SQLException e) {
      var io = failure(e);
      close(c, io);
      throw io;
    }
    log.info("mysql-lock-tables {}: read lock held for {}@{}", target, fs, snapshot);
    long t0 = System.nanoTime();
    return () -> {
      try {
        st.execute("UNLOCK TABLES");
      } catch (SQLException e) {
        var io = failure(e);
        close(c, io);
        throw io;
      }
      close(c, null);
      log.info(
          "mysql-lock-tables {}: read lock for {}@{} released after {} ms",
          target,
          fs,
          snapshot,
          (System.nanoTime() - t0) / 1_000_000);
    };
  }

  private Connection connect() throws SQLException {
    var c = new Driver().connect(target.url(), target.driverProperties());
    return Objects.requireNonNull(c, "the MariaDB driver refused its own URL");
  }

  private IOException failure(SQLException e) {
    return new IOException(target.redact(JdbcTarget.describe(e)), e);
  }

  /** Closes {@code c}; a failure is added to {@code primary}, or logged if there is none. */
  private void close(Connection c, @Nullable IOException primary) throws IOException {
    try {
      c.close();
    } catch (SQLException e) {
      if (primary != null) {
        primary.addSuppressed(e);
      } else {
        throw failure(e);
      }
    }
  }

  @Override
  public String toString() {
    return "mysql-lock-tables " + target;
  }

  // ---------------------------------------------------------------------------------------------
  // DSN

  /**
   * Parses a go-sql-driver DSN into what MariaDB Connector/J needs; errors never show passwords.
   */
  static JdbcTarget parse(String dsn, Duration timeout) {
    int slash = dsn.lastIndexOf('/');
    if (slash < 0) {
      throw new IllegalArgumentException(
          "missing the slash before the database name:"
              + " expected [user[:password]@][tcp[(host:port)]]/[dbname][?param=value]");
    }
    var user = "";
    String password = null;
    var net = "";
    var addr = "";
    if (slash > 0) {
      var left = dsn.substring(0, slash);
      int at = left.lastIndexOf('@');
      if (at >= 0) {
        var userInfo = left.substring(0, at);
        int colon = userInfo.indexOf(':');
        user = colon < 0 ? userInfo : userInfo.substring(0, colon);
        password = colon < 0 ? null : userInfo.substring(colon + 1);
      }
      var proto = left.substring(at + 1);
      int paren = proto.indexOf('(');
      if (paren >= 0) {
        if (!proto.endsWith(")")) {
          throw new IllegalArgumentException(
              proto.indexOf(')', paren) >= 0
                  ? "did you forget to escape a parameter value?"
                  : "invalid network address (missing closing parenthesis)");
        }
        addr = proto.substring(paren + 1, proto.length() - 1);
        net = proto.substring(0, paren);
      } else {
        net = proto;
      }
    }
    var rest = dsn.substring(slash + 1);
    int q = rest.indexOf('?');
    var dbname = JdbcTarget.percentDecode(q < 0 ? rest : rest.substring(0, q));
    var params = new LinkedHashMap<String, String>();
    if (q >= 0) {
      for (var kv : rest.substring(q + 1).split("&")) {
        int eq = kv.indexOf('=');
        if (eq < 0) {
          continue; // as go-sql-driver
        }
        params.put(kv.substring(0, eq), JdbcTarget.percentDecode(kv.substring(eq + 1)));
      }
    }
    if (net.isEmpty()) {
      net = "tcp";
    }
    switch (net) {
      case "tcp", "tcp4", "tcp6" -> {}
      case "unix" ->
          throw new IllegalArgumentException(
              "the unix protocol is not supported yet: use tcp(127.0.0.1:3306)");
      default -> throw new IllegalArgumentException("unknown network '" + net + "'");
    }
    String host;
    int port = 3306;
    if (addr.isEmpty()) {
      host = "127.0.0.1";
    } else if (addr.startsWith("[")) {
      int close = addr.indexOf(']');
      if (close < 0) {
        throw new IllegalArgumentException("missing ']' in address '" + addr + "'");
      }
      host = addr.substring(1, close);
      if (addr.length() > close + 1) {
        port = port(addr.substring(close + 1), addr);
      }
    } else if (addr.indexOf(':') != addr.lastIndexOf(':')) {
      host = addr; // a bare IPv6 address: go-sql-driver adds the port
    } else {
      int colon = addr.indexOf(':');
      host = colon < 0 ? addr : addr.substring(0, colon);
      if (colon >= 0) {
        port = port(addr.substring(colon), addr);
      }
    }
    if (host.isEmpty()) {
      host = "127.0.0.1";
    }

    var props = new LinkedHashMap<String, String>();
    if (!user.isEmpty()) {
      props.put("user", user);
    }
    if (password != null && !password.isEmpty()) {
      props.put("password", password);
    }
    long timeoutMs = timeout.toMillis();
    long connectMs = timeoutMs;
    long socketMs = timeoutMs;
    var sessionVariables = new StringBuilder();
    var sslMode = "disable";
    for (var e : params.entrySet()) {
      var k = e.getKey();
      var v = e.getValue();
      switch (k) {
        case "timeout" -> connectMs = Math.min(connectMs, positiveMillis(goDuration(k, v), k));
        case "readTimeout", "writeTimeout" ->
            socketMs = Math.min(socketMs, positiveMillis(goDuration(k, v), k));
        case "tls" ->
            sslMode =
                switch (v.toLowerCase(Locale.ROOT)) {
                  case "true", "1", "t" -> "verify-full";
                  case "false", "0", "f" -> "disable";
                  case "skip-verify", "preferred" -> "trust";
                  default ->
                      throw new IllegalArgumentException(
                          "tls='"
                              + v
                              + "' (a custom TLS config) is not supported: use true, false,"
                              + " skip-verify or preferred");
                };
        default -> {
          if (BOOLEANS.contains(k)) {
            checkBool(k, v);
          } else if (!IGNORED.contains(k)) {
            // go-sql-driver: "any other parameter is a system variable set with SET"
            if (!sessionVariables.isEmpty()) {
              sessionVariables.append(',');
            }
            sessionVariables.append(k).append('=').append(v);
          }
        }
      }
    }
    props.put("connectTimeout", Long.toString(connectMs));
    props.put("socketTimeout", Long.toString(Math.max(socketMs, timeoutMs)));
    props.put("sslMode", sslMode);
    if (!sessionVariables.isEmpty()) {
      props.put("sessionVariables", sessionVariables.toString());
    }
    var hostPart = host.contains(":") ? "[" + host + "]" : host;
    var url =
        "jdbc:mariadb://"
            + hostPart
            + ":"
            + port
            + "/"
            + URLEncoder.encode(dbname, StandardCharsets.UTF_8).replace("+", "%20");
    var display =
        (user.isEmpty() ? "" : user + "@") + "tcp(" + hostPart + ":" + port + ")/" + dbname;
    return new JdbcTarget(url, props, display);
  }

  private static int port(String colonPort, String addr) {
    if (!colonPort.startsWith(":")) {
      throw new IllegalArgumentException("invalid address '" + addr + "'");
    }
    int p;
    try {
      p = Integer.parseInt(colonPort.substring(1));
    } catch (NumberFormatException e) {
      p = -1;
    }
    if (p < 1 || p > 65535) {
      throw new IllegalArgumentException("invalid port in address '" + addr + "'");
    }
    return p;
  }

  private static void checkBool(String k, String v) {
    switch (v) {
      case "1", "true", "TRUE", "True", "0", "false", "FALSE", "False" -> {}
      default -> throw new IllegalArgumentException("invalid bool value '" + v + "' of " + k);
    }
  }

  private static long positiveMillis(Duration d, String k) {
    if (d.isNegative()) {
      throw new IllegalArgumentException("" + k + " must not be negative");
    }
    // 0 = no limit in go-sql-driver: the hook's timeout still applies
    return d.isZero() ? Long.MAX_VALUE : Math.max(1, d.toMillis());
  }

  /**
   * Go's {@code time.ParseDuration}: e.g. {@code 30s}, {@code 1m30s}, {@code 1.5s}, {@code 500ms}.
   */
  static Duration goDuration(String key, String s) {
    var t = s;
    boolean neg = false;
    if (t.startsWith("-") || t.startsWith("+")) {
      neg = t.startsWith("-");
      t = t.substring(1);
    }
    if (t.equals("0")) {
      return Duration.ZERO;
    }
    var m = GO_DURATION.matcher(t);
    long nanos = 0;
    int end = 0;
    while (m.find() && m.start() == end && !m.group(1).isEmpty() && !m.group(1).equals(".")) {
      var unit =
          switch (m.group(2)) {
            case "ns" -> 1L;
            case "us", "µs", "μs" -> 1_000L;
            case "ms" -> 1_000_000L;
            case "s" -> 1_000_000_000L;
            case "m" -> 60_000_000_000L;
            default -> 3_600_000_000_000L;
          };
      nanos += new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(unit)).longValue();
      end = m.end();
    }
    if (end == 0 || end != t.length()) {
      throw new IllegalArgumentException(
          "invalid duration '" + s + "' of " + key + " (expected e.g. 30s, 1m30s, 500ms)");
    }
    return Duration.ofNanos(neg ? -nanos : nanos);
  }
}
