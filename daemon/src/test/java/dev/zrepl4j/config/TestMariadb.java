package dev.zrepl4j.config;

import static org.assertj.core.api.Assertions.fail;

import dev.zrepl4j.replication.FuseFixture;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * Test support: a throwaway MariaDB server (Debian's {@code mariadb-server} package: {@code
 * mariadb-install-db} and {@code mariadbd}, with {@code --no-defaults} so that the system's config,
 * socket and port are not used) in a temporary directory, on a free port of 127.0.0.1. It has the
 * users zrepl's documentation asks for: {@link #LOCK_USER} with only the {@code RELOAD} privilege
 * and {@link #WRITER} that may write to table {@code app.t}. Killed and deleted on close. Fails the
 * test (never skips) if it cannot be started: {@code scripts/test.sh} installs the package.
 */
final class TestMariadb implements AutoCloseable {
  static final String LOCK_USER = "zrepl_lock_tables";
  static final String LOCK_PASSWORD = "my-Secret-0815";
  static final String WRITER = "writer";
  private static final String WRITER_PASSWORD = "writer-pw";

  final int port;
  private final Path dir;
  private final Process server;

  private TestMariadb(Path dir, Process server, int port) {
    this.dir = dir;
    this.server = server;
    this.port = port;
  }

  static TestMariadb start() throws IOException, InterruptedException {
    for (var bin : new String[] {"/usr/bin/mariadb-install-db", "/usr/sbin/mariadbd"}) {
      if (!Files.isExecutable(Path.of(bin))) {
        fail(bin + " not found: install Debian's mariadb-server package (scripts/test.sh does)");
      }
    }
    var dir = Files.createTempDirectory("zrepl4j-mariadb-");
    var data = dir.resolve("data");
    var socket = dir.resolve("mysqld.sock");
    var log = dir.resolve("server.log");
    int port = TestPostgres.freePort();
    Process server = null;
    try {
      FuseFixture.run(
          "/usr/bin/mariadb-install-db",
          "--no-defaults",
          "--datadir=" + data,
          "--user=root",
          "--skip-test-db",
          "--auth-root-authentication-method=socket");
      server =
          new ProcessBuilder(
                  "/usr/sbin/mariadbd",
                  "--no-defaults",
                  "--datadir=" + data,
                  "--socket=" + socket,
                  "--port=" + port,
                  "--bind-address=127.0.0.1",
                  "--user=root",
                  "--pid-file=" + dir.resolve("mariadbd.pid"),
                  "--skip-name-resolve",
                  "--skip-log-bin",
                  "--innodb-buffer-pool-size=16M",
                  "--log-error=" + log)
              .redirectErrorStream(true)
              .redirectOutput(dir.resolve("stdout.log").toFile())
              .start();
      var deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (true) {
        if (!server.isAlive()) {
          throw new IOException("mariadbd exited " + server.exitValue());
        }
        if (Files.exists(socket)) {
          try {
            sql(socket, "SELECT 1");
            break;
          } catch (IOException e) {
            // not ready yet
          }
        }
        if (System.nanoTime() > deadline) {
          throw new IOException("mariadbd did not answer within 60 s");
        }
        Thread.sleep(100);
      }
      sql(
          socket,
          "CREATE USER '"
              + LOCK_USER
              + "'@'127.0.0.1' IDENTIFIED BY '"
              + LOCK_PASSWORD
              + "'; GRANT RELOAD ON *.* TO '"
              + LOCK_USER
              + "'@'127.0.0.1'; CREATE DATABASE app; CREATE TABLE app.t (n INT) ENGINE=InnoDB;"
              + " CREATE USER '"
              + WRITER
              + "'@'127.0.0.1' IDENTIFIED BY '"
              + WRITER_PASSWORD
              + "'; GRANT INSERT, SELECT ON app.* TO '"
              + WRITER
              + "'@'127.0.0.1';");
    } catch (IOException | RuntimeException e) {
      var msg =
          "cannot start MariaDB: " + e.getMessage() + "\nserver log:\n" + TestPostgres.tail(log);
      if (server != null) {
        server.destroyForcibly().waitFor();
      }
      TestPostgres.delete(dir);
      return fail(msg, e);
    }
    return new TestMariadb(dir, server, port);
  }

  private static void sql(Path socket, String sql) throws IOException {
    FuseFixture.run(
        "/usr/bin/mariadb", "--no-defaults", "-S", socket.toString(), "-u", "root", "-e", sql);
  }

  /** A connection of {@link #WRITER}, whose metadata-lock waits give up after one second. */
  Connection writer() throws SQLException {
    var p = new Properties();
    p.put("user", WRITER);
    p.put("password", WRITER_PASSWORD);
    p.put("connectTimeout", "10000");
    p.put("sessionVariables", "lock_wait_timeout=1");
    return java.util.Objects.requireNonNull(
        new org.mariadb.jdbc.Driver().connect("jdbc:mariadb://127.0.0.1:" + port + "/app", p));
  }

  @Override
  public void close() throws IOException, InterruptedException {
    try {
      server.destroy();
      if (!server.waitFor(30, TimeUnit.SECONDS)) {
        server.destroyForcibly().waitFor();
      }
    } finally {
      TestPostgres.delete(dir);
    }
  }
}
