package dev.zrepl4j.config;

import static org.assertj.core.api.Assertions.fail;

import dev.zrepl4j.replication.FuseFixture;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Comparator;
import java.util.Properties;
import java.util.stream.Stream;

/**
 * Test support: a throwaway PostgreSQL server (Debian's {@code postgresql} package: initdb and
 * pg_ctl under {@code /usr/lib/postgresql/<version>/bin}) in a temporary directory, run as the
 * {@code postgres} user on a free port of 127.0.0.1, with superuser {@code postgres} and password
 * {@link #PASSWORD} (scram). Stopped and deleted on close. Fails the test (never skips) if it
 * cannot be started: {@code scripts/test.sh} installs the package.
 */
final class TestPostgres implements AutoCloseable {
  static final String PASSWORD = "pg-Secret-4711";

  final int port;
  private final Path dir;
  private final Path bin;

  private TestPostgres(Path dir, Path bin, int port) {
    this.dir = dir;
    this.bin = bin;
    this.port = port;
  }

  static TestPostgres start() throws IOException {
    var bin = findBin();
    var dir = Files.createTempDirectory("zrepl4j-pg-");
    var pw = dir.resolve("pw");
    Files.writeString(pw, PASSWORD + "\n");
    FuseFixture.run("chown", "-R", "postgres:postgres", dir.toString());
    var data = dir.resolve("data");
    int port = freePort();
    try {
      FuseFixture.run(
          "runuser",
          "-u",
          "postgres",
          "--",
          bin.resolve("initdb").toString(),
          "-D",
          data.toString(),
          "-U",
          "postgres",
          "--pwfile=" + pw,
          "--auth-local=trust",
          "--auth-host=scram-sha-256",
          "--no-sync",
          "--no-instructions");
      FuseFixture.run(
          "runuser",
          "-u",
          "postgres",
          "--",
          bin.resolve("pg_ctl").toString(),
          "-D",
          data.toString(),
          "-l",
          dir.resolve("server.log").toString(),
          "-w",
          "-t",
          "30",
          "-o",
          "-p " + port + " -k " + dir + " -c listen_addresses=127.0.0.1 -c fsync=off",
          "start");
    } catch (IOException e) {
      var log = tail(dir.resolve("server.log"));
      delete(dir);
      return fail("cannot start PostgreSQL: " + e.getMessage() + "\nserver log:\n" + log, e);
    }
    return new TestPostgres(dir, bin, port);
  }

  /** A superuser connection to database {@code postgres}. */
  Connection connect() throws SQLException {
    var p = new Properties();
    p.put("user", "postgres");
    p.put("password", PASSWORD);
    p.put("connectTimeout", "10");
    return java.util.Objects.requireNonNull(
        new org.postgresql.Driver()
            .connect("jdbc:postgresql://127.0.0.1:" + port + "/postgres?sslmode=disable", p));
  }

  /** Checkpoints requested so far ({@code CHECKPOINT} statements among them). */
  long requestedCheckpoints() throws SQLException {
    try (var c = connect();
        var st = c.createStatement()) {
      // PostgreSQL 17 moved the counter to pg_stat_checkpointer
      var hasCheckpointer =
          st.executeQuery("SELECT to_regclass('pg_catalog.pg_stat_checkpointer') IS NOT NULL");
      hasCheckpointer.next();
      var sql =
          hasCheckpointer.getBoolean(1)
              ? "SELECT num_requested FROM pg_stat_checkpointer"
              : "SELECT checkpoints_req FROM pg_stat_bgwriter";
      var rs = st.executeQuery(sql);
      rs.next();
      return rs.getLong(1);
    }
  }

  @Override
  public void close() throws IOException {
    try {
      FuseFixture.run(
          "runuser",
          "-u",
          "postgres",
          "--",
          bin.resolve("pg_ctl").toString(),
          "-D",
          dir.resolve("data").toString(),
          "-m",
          "immediate",
          "-w",
          "stop");
    } finally {
      delete(dir);
    }
  }

  private static Path findBin() {
    var root = Path.of("/usr/lib/postgresql");
    try (Stream<Path> versions = Files.list(root)) {
      return versions
          .map(v -> v.resolve("bin"))
          .filter(b -> Files.isExecutable(b.resolve("initdb")))
          .max(Comparator.comparing(b -> Integer.parseInt(b.getParent().getFileName().toString())))
          .orElseThrow(() -> new IOException("no initdb under " + root));
    } catch (IOException | NumberFormatException e) {
      return fail(
          "PostgreSQL server binaries not found ("
              + e.getMessage()
              + "): install Debian's postgresql package (scripts/test.sh does)",
          e);
    }
  }

  static int freePort() throws IOException {
    try (var s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  static String tail(Path log) {
    try {
      var s = Files.readString(log);
      return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
    } catch (IOException e) {
      return "(" + log + ": " + e.getMessage() + ")";
    }
  }

  static void delete(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (var s = Files.walk(dir)) {
      for (var p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
