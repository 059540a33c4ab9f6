package dev.zrepl4j.config;

import dev.zrepl4j.replication.snapshotting.Snapshotter;
import dev.zrepl4j.zfs.DatasetPath;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.postgresql.Driver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * zrepl's {@code postgres-checkpoint} hook: runs {@code CHECKPOINT} on a PostgreSQL server before
 * the snapshot (in a dry run it only connects), nothing after. Thread-safe: each run opens and
 * closes its own connection.
 *
 * <p>The DSN is lib/pq's, as zrepl passes it to {@code pq.NewConnector}: {@code keyword=value}
 * pairs separated by spaces (values may be single-quoted, with backslash escapes) or a {@code
 * postgres://user:password@host:port/dbname?key=value} URL. As in lib/pq the defaults are {@code
 * host=localhost port=5432 sslmode=require} and the operating system's user name; other keywords
 * are server settings ({@code search_path=...}). Not supported: unix-domain socket hosts ({@code
 * host=/run/postgresql}), {@code sslinline}, {@code passfile}, {@code krbspn} and lib/pq's {@code
 * PG*} environment variables.
 */
public final class PostgresCheckpoint implements Snapshotter.PreSnapshot {
  private static final Logger log = LoggerFactory.getLogger(PostgresCheckpoint.class);

  private static final Set<String> SSL_MODES =
      Set.of("disable", "require", "verify-ca", "verify-full");

  /** lib/pq keywords that do not matter to one CHECKPOINT statement. */
  private static final Set<String> IGNORED =
      Set.of("binary_parameters", "disable_prepared_binary_result", "extra_float_digits", "sslsni");

  private static final Set<String> UNSUPPORTED = Set.of("sslinline", "passfile", "krbspn");

  private final JdbcTarget target;
  private final Duration timeout;

  private PostgresCheckpoint(JdbcTarget target, Duration timeout) {
    this.target = target;
    this.timeout = timeout;
  }

  /**
   * Checks {@code dsn}; connects only when run.
   *
   * @param timeout bounds connecting and the statement, each
   * @throws IllegalArgumentException if the DSN is invalid (the message never holds its password)
   */
  public static PostgresCheckpoint of(String dsn, Duration timeout) {
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive: " + timeout);
    }
    return new PostgresCheckpoint(parse(dsn, timeout), timeout);
  }

  /** The server, user and database, without the password: {@code user@host:port/dbname}. */
  public String target() {
    return target.display();
  }

  @Override
  public Snapshotter.PostSnapshot run(DatasetPath fs, String snapshot, boolean dryRun)
      throws IOException {
    long t0 = System.nanoTime();
    try (var c = connect();
        var st = c.createStatement()) {
      st.setQueryTimeout(JdbcTarget.seconds(timeout));
      st.execute("SET statement_timeout = " + timeout.toMillis());
      if (dryRun) {
        st.execute("SELECT 1");
        log.debug("postgres-checkpoint {}: connected (dry run: no CHECKPOINT) for {}", target, fs);
      } else {
        st.execute("CHECKPOINT");
        log.info(
            "postgres-checkpoint {}: CHECKPOINT before {}@{} took {} ms",
            target,
            fs,
            snapshot,
            (System.nanoTime() - t0) / 1_000_000);
      }
    } catch (SQLException e) {
      throw new IOException(target.redact(JdbcTarget.describe(e)), e);
    }
    return Snapshotter.PostSnapshot.NONE;
  }

  private Connection connect() throws SQLException {
    var c = new Driver().connect(target.url(), target.driverProperties());
    return Objects.requireNonNull(c, "the PostgreSQL driver refused its own URL");
  }

  @Override
  public String toString() {
    return "postgres-checkpoint " + target;
  }

  // ---------------------------------------------------------------------------------------------
  // DSN

  /** Parses a lib/pq DSN into what pgjdbc needs; errors never show the password. */
  static JdbcTarget parse(String dsn, Duration timeout) {
    var s = dsn.strip();
    Map<String, String> o =
        s.startsWith("postgres://") || s.startsWith("postgresql://") ? parseUrl(s) : parseOpts(s);
    for (var k : o.keySet()) {
      if (UNSUPPORTED.contains(k)) {
        throw new IllegalArgumentException("keyword '" + k + "' is not supported yet");
      }
    }
    var host = nonEmpty(o.remove("host"), "localhost");
    if (host.startsWith("/")) {
      throw new IllegalArgumentException(
          "unix-domain socket host '"
              + host
              + "' is not supported yet: use host=127.0.0.1 (or another TCP address)");
    }
    if (host.contains(",")) {
      throw new IllegalArgumentException("only one host is supported, got '" + host + "'");
    }
    var portText = nonEmpty(o.remove("port"), "5432");
    int port;
    try {
      port = Integer.parseInt(portText);
    } catch (NumberFormatException e) {
      port = -1;
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("invalid port '" + portText + "'");
    }
    var user = nonEmpty(o.remove("user"), System.getProperty("user.name", "postgres"));
    var dbname = nonEmpty(o.remove("dbname"), "");
    var props = new LinkedHashMap<String, String>();
    props.put("user", user);
    var password = o.remove("password");
    if (password != null && !password.isEmpty()) {
      props.put("password", password);
    }
    var sslmode = nonEmpty(o.remove("sslmode"), "require");
    if (!SSL_MODES.contains(sslmode)) {
      throw new IllegalArgumentException(
          "unsupported sslmode '"
              + sslmode
              + "' (lib/pq supports require (the default), verify-full, verify-ca and disable)");
    }
    props.put("sslmode", sslmode);
    for (var k : new String[] {"sslcert", "sslkey", "sslrootcert"}) {
      var v = o.remove(k);
      if (v != null && !v.isEmpty()) {
        props.put(k, v);
      }
    }
    int connectSeconds = JdbcTarget.seconds(timeout);
    var ct = o.remove("connect_timeout");
    if (ct != null && !ct.isEmpty()) {
      int n;
      try {
        n = Integer.parseInt(ct.strip());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("invalid connect_timeout '" + ct + "'", e);
      }
      if (n > 0) {
        connectSeconds = Math.min(connectSeconds, n);
      }
    }
    props.put("connectTimeout", Integer.toString(connectSeconds));
    props.put("loginTimeout", Integer.toString(connectSeconds));
    props.put("socketTimeout", Integer.toString(JdbcTarget.seconds(timeout) + connectSeconds));
    var app = o.remove("application_name");
    var fallback = o.remove("fallback_application_name");
    props.put("ApplicationName", nonEmpty(app, nonEmpty(fallback, "zrepl4j")));
    var krb = o.remove("krbsrvname");
    if (krb != null && !krb.isEmpty()) {
      props.put("kerberosServerName", krb);
    }
    var enc = o.remove("client_encoding");
    if (enc != null && !enc.equalsIgnoreCase("UTF8") && !enc.equalsIgnoreCase("UTF-8")) {
      throw new IllegalArgumentException("client_encoding must be absent or 'UTF8'");
    }
    var datestyle = o.remove("datestyle");
    if (datestyle != null && !datestyle.equals("ISO, MDY")) {
      throw new IllegalArgumentException("datestyle must be absent or 'ISO, MDY'");
    }
    IGNORED.forEach(o::remove);
    // lib/pq sends every other keyword as a server setting at startup
    var options = new StringBuilder();
    for (var e : o.entrySet()) {
      if (!options.isEmpty()) {
        options.append(' ');
      }
      options.append("-c ").append(escapeOption(e.getKey() + "=" + e.getValue()));
    }
    if (!options.isEmpty()) {
      props.put("options", options.toString());
    }
    var hostPart = host.contains(":") ? "[" + host + "]" : host;
    var url = "jdbc:postgresql://" + hostPart + ":" + port + "/" + urlEncode(dbname);
    var display = user + "@" + hostPart + ":" + port + "/" + dbname;
    return new JdbcTarget(url, props, display);
  }

  private static String nonEmpty(@Nullable String v, String dflt) {
    return v == null || v.isEmpty() ? dflt : v;
  }

  private static String escapeOption(String s) {
    return s.replace("\\", "\\\\").replace(" ", "\\ ");
  }

  private static String urlEncode(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
  }

  /** lib/pq's {@code parseOpts}: {@code key=value} pairs, values optionally single-quoted. */
  static Map<String, String> parseOpts(String s) {
    var o = new LinkedHashMap<String, String>();
    int i = 0;
    int n = s.length();
    while (true) {
      while (i < n && Character.isWhitespace(s.charAt(i))) {
        i++;
      }
      if (i >= n) {
        break;
      }
      int keyStart = i;
      var key = new StringBuilder();
      while (i < n && !Character.isWhitespace(s.charAt(i)) && s.charAt(i) != '=') {
        key.append(s.charAt(i++));
      }
      while (i < n && Character.isWhitespace(s.charAt(i))) {
        i++;
      }
      if (i >= n || s.charAt(i) != '=') {
        // the word is not shown: it may be a password that lost its "password="
        throw new IllegalArgumentException(
            "missing '=' after the word at character "
                + (keyStart + 1)
                + " (expected keyword=value pairs separated by spaces, or a postgres:// URL)");
      }
      i++; // '='
      while (i < n && Character.isWhitespace(s.charAt(i))) {
        i++;
      }
      var val = new StringBuilder();
      if (i < n && s.charAt(i) == '\'') {
        i++;
        while (true) {
          if (i >= n) {
            throw new IllegalArgumentException(
                "unterminated quoted string for keyword '" + key + "'");
          }
          char c = s.charAt(i++);
          if (c == '\'') {
            break;
          }
          if (c == '\\' && i < n) {
            c = s.charAt(i++);
          }
          val.append(c);
        }
      } else {
        while (i < n && !Character.isWhitespace(s.charAt(i))) {
          char c = s.charAt(i++);
          if (c == '\\') {
            if (i >= n) {
              throw new IllegalArgumentException(
                  "missing character after backslash for keyword '" + key + "'");
            }
            c = s.charAt(i++);
          }
          val.append(c);
        }
      }
      o.put(key.toString(), val.toString());
    }
    return o;
  }

  /** lib/pq's {@code ParseURL}: {@code postgres[ql]://[user[:password]@]host[:port][/db][?k=v]}. */
  static Map<String, String> parseUrl(String s) {
    var o = new LinkedHashMap<String, String>();
    var rest = s.substring(s.indexOf("://") + 3);
    int q = rest.indexOf('?');
    var query = q < 0 ? "" : rest.substring(q + 1);
    rest = q < 0 ? rest : rest.substring(0, q);
    int slash = rest.indexOf('/');
    var path = slash < 0 ? "" : rest.substring(slash + 1);
    var authority = slash < 0 ? rest : rest.substring(0, slash);
    int at = authority.lastIndexOf('@');
    if (at >= 0) {
      var userInfo = authority.substring(0, at);
      authority = authority.substring(at + 1);
      int colon = userInfo.indexOf(':');
      putNonEmpty(
          o, "user", JdbcTarget.percentDecode(colon < 0 ? userInfo : userInfo.substring(0, colon)));
      if (colon >= 0) {
        putNonEmpty(o, "password", JdbcTarget.percentDecode(userInfo.substring(colon + 1)));
      }
    }
    String host;
    String port = "";
    if (authority.startsWith("[")) {
      int close = authority.indexOf(']');
      if (close < 0) {
        throw new IllegalArgumentException("missing ']' in the URL's host");
      }
      host = authority.substring(1, close);
      if (authority.length() > close + 1) {
        if (authority.charAt(close + 1) != ':') {
          throw new IllegalArgumentException("invalid host in the URL");
        }
        port = authority.substring(close + 2);
      }
    } else {
      int colon = authority.lastIndexOf(':');
      host = colon < 0 ? authority : authority.substring(0, colon);
      port = colon < 0 ? "" : authority.substring(colon + 1);
    }
    putNonEmpty(o, "host", JdbcTarget.percentDecode(host));
    putNonEmpty(o, "port", port);
    putNonEmpty(o, "dbname", JdbcTarget.percentDecode(path));
    for (var kv : query.split("&")) {
      if (kv.isEmpty()) {
        continue;
      }
      int eq = kv.indexOf('=');
      var k = queryDecode(eq < 0 ? kv : kv.substring(0, eq));
      var v = eq < 0 ? "" : queryDecode(kv.substring(eq + 1));
      putNonEmpty(o, k, v); // as lib/pq: query parameters override the URL's parts
    }
    return o;
  }

  private static void putNonEmpty(Map<String, String> o, String k, String v) {
    if (!v.isEmpty()) {
      o.put(k, v);
    }
  }

  private static String queryDecode(String s) {
    return JdbcTarget.percentDecode(s.replace('+', ' '));
  }
}
