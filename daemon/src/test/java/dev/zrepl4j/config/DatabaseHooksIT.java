package dev.zrepl4j.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.replication.FuseFixture;
import dev.zrepl4j.replication.snapshotting.SnapshotNameFormat;
import dev.zrepl4j.replication.snapshotting.Snapshotter;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The {@code postgres-checkpoint} and {@code mysql-lock-tables} hooks, read from zrepl YAML,
 * against real servers started by the test ({@link TestPostgres}, {@link TestMariadb}) and
 * snapshots on a zfs-fuse pool.
 */
@Timeout(300)
class DatabaseHooksIT {
  private static final Instant T = Instant.parse("2026-01-01T00:00:00Z");
  private static final String SNAP = "zrepl_20260101_000000_000";

  private static TestPostgres pg;
  private static TestMariadb my;

  @BeforeAll
  static void startServers() throws Exception {
    pg = TestPostgres.start();
    my = TestMariadb.start();
  }

  @AfterAll
  static void stopServers() throws Exception {
    try (var a = pg;
        var b = my) {
      // closes both, keeping the first failure
    }
  }

  /** The hooks of a snap job whose {@code hooks:} list is {@code hooksYaml} (flow items). */
  private static List<Snapshotter.Hook> hooks(String... hooksYaml) {
    var yaml = new StringBuilder();
    yaml.append(
        """
        jobs:
        - name: db
          type: snap
          filesystems: {"<": true}
          snapshotting:
            type: periodic
            prefix: zrepl_
            interval: 10m
            hooks:
        """);
    for (var h : hooksYaml) {
      yaml.append("    - ").append(h).append('\n');
    }
    yaml.append("  pruning: {keep: []}\n");
    var c = ConfigParser.parse(yaml.toString(), Path.of("/nonexistent/zrepl.yml"));
    var s = (Snapshotting.Periodic) ((Job.Snap) c.jobs().getFirst()).snapshotting();
    return s.hooks();
  }

  private static Snapshotter snapshotter(FuseFixture fx, List<Snapshotter.Hook> hooks) {
    return new Snapshotter(
        fx.zfs,
        List.of(fx.root()),
        fs -> !fs.equals(fx.root()),
        SnapshotNameFormat.dense("zrepl_"),
        hooks,
        () -> T);
  }

  private static List<String> snaps(FuseFixture fx, DatasetPath fs) throws IOException {
    return fx.zfs.listVersions(List.of(fs)).get(fs).stream()
        .filter(FilesystemVersion::isSnapshot)
        .map(FilesystemVersion::name)
        .toList();
  }

  /** A builtin hook that runs {@code check} as its pre edge, for {@code fs} only. */
  private static Snapshotter.BuiltinHook probe(DatasetPath fs, Check check) {
    return new Snapshotter.BuiltinHook(
        "probe",
        true,
        fs::equals,
        (f, snap, dry) -> {
          try {
            check.run(dry);
          } catch (SQLException e) {
            throw new IOException(e);
          }
          return Snapshotter.PostSnapshot.NONE;
        });
  }

  interface Check {
    void run(boolean dryRun) throws IOException, SQLException, InterruptedException;
  }

  private static String pgDsn(int port, String password) {
    return "host=127.0.0.1 port="
        + port
        + " user=postgres password="
        + password
        + " sslmode=disable";
  }

  private static String myDsn(int port, String password) {
    return TestMariadb.LOCK_USER + ":" + password + "@tcp(127.0.0.1:" + port + ")/";
  }

  @Test
  void postgresCheckpointRunsCheckpointBeforeTheSnapshotOfItsFilesystemsOnly() throws Exception {
    try (var fx = FuseFixture.create("pghook", 64)) {
      var data = fx.path("pg");
      var other = fx.path("other");
      fx.zfs.create(data, Map.of());
      fx.zfs.create(other, Map.of());
      var before = pg.requestedCheckpoints();
      var seen = new CopyOnWriteArrayList<Long>();
      var hooks =
          new ArrayList<>(
              hooks(
                  "{type: postgres-checkpoint, dsn: \""
                      + pgDsn(pg.port, TestPostgres.PASSWORD)
                      + "\", timeout: 10s, filesystems: {\""
                      + data
                      + "\": true}}"));
      // runs after the checkpoint hook and before the snapshot
      hooks.add(
          probe(
              data,
              dryRun -> {
                assertThat(snaps(fx, data)).isEmpty();
                // the cumulative statistics may lag the checkpoint a little
                long n = pg.requestedCheckpoints();
                for (int i = 0; i < 50 && n == before && !dryRun; i++) {
                  Thread.sleep(100);
                  n = pg.requestedCheckpoints();
                }
                seen.add(n);
              }));
      var snapper = snapshotter(fx, hooks);

      var dry = snapper.snapshot(true);
      assertThat(dry.hookFailures()).isEmpty();
      assertThat(snaps(fx, data)).isEmpty();
      assertThat(seen).containsExactly(before); // a dry run only connects
      seen.clear();

      var r = snapper.snapshot(false);
      assertThat(r.hookFailures()).isEmpty();
      assertThat(r.snapshotted()).containsExactlyInAnyOrder(data, other);
      assertThat(seen).containsExactly(before + 1); // one CHECKPOINT, for data only
      assertThat(snaps(fx, data)).containsExactly(SNAP);
      assertThat(pg.requestedCheckpoints()).isEqualTo(before + 1);
    }
  }

  @Test
  void mysqlLockTablesHoldsTheGlobalReadLockAcrossTheSnapshot() throws Exception {
    try (var fx = FuseFixture.create("myhook", 64);
        var writer = my.writer()) {
      var data = fx.path("mysql");
      fx.zfs.create(data, Map.of());
      var blocked = new CopyOnWriteArrayList<String>();
      var hooks =
          new ArrayList<>(
              hooks(
                  "{type: mysql-lock-tables, dsn: \""
                      + myDsn(my.port, TestMariadb.LOCK_PASSWORD)
                      + "\", filesystems: {\""
                      + data
                      + "\": true}}"));
      hooks.add(
          probe(
              data,
              dryRun -> {
                assertThat(snaps(fx, data)).isEmpty();
                try (var st = writer.createStatement()) {
                  assertThatThrownBy(() -> st.executeUpdate("INSERT INTO t VALUES (1)"))
                      .isInstanceOf(SQLException.class)
                      .hasMessageContaining("Lock wait timeout");
                  blocked.add("insert timed out");
                }
              }));
      var snapper = snapshotter(fx, hooks);
      var r = snapper.snapshot(false);
      assertThat(r.hookFailures()).isEmpty();
      assertThat(blocked).containsExactly("insert timed out");
      assertThat(snaps(fx, data)).containsExactly(SNAP);
      // UNLOCK TABLES ran: the writer writes again
      try (var st = writer.createStatement()) {
        assertThat(st.executeUpdate("INSERT INTO t VALUES (2)")).isEqualTo(1);
        var rs = st.executeQuery("SELECT COUNT(*) FROM t");
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(1);
      }
    }
  }

  @Test
  void unreachableOrRefusedServersFailAsZreplDoesWithoutShowingPasswords() throws Exception {
    try (var fx = FuseFixture.create("dbdown", 64);
        var writer = my.writer()) {
      var a = fx.path("a");
      var b = fx.path("b");
      var c = fx.path("c");
      var d = fx.path("d");
      for (var fs : List.of(a, b, c, d)) {
        fx.zfs.create(fs, Map.of());
      }
      int down = TestPostgres.freePort(); // nothing listens there
      var hooks =
          hooks(
              // a: server down, err_is_fatal false (zrepl's default): logged, snapshot taken
              "{type: postgres-checkpoint, dsn: \""
                  + pgDsn(down, "down-Secret-1")
                  + "\", filesystems: {\""
                  + a
                  + "\": true}}",
              // b: server down, err_is_fatal true: no snapshot of b
              "{type: mysql-lock-tables, err_is_fatal: true, timeout: 5s, dsn: \""
                  + myDsn(down, "down-Secret-2")
                  + "\", filesystems: {\""
                  + b
                  + "\": true}}",
              // c: wrong password
              "{type: mysql-lock-tables, dsn: \""
                  + myDsn(my.port, "wrong-Secret-3")
                  + "\", filesystems: {\""
                  + c
                  + "\": true}}",
              // d: locked, then a later fatal hook skips d: the lock is released at once
              "{type: mysql-lock-tables, dsn: \""
                  + myDsn(my.port, TestMariadb.LOCK_PASSWORD)
                  + "\", filesystems: {\""
                  + d
                  + "\": true}}",
              "{type: postgres-checkpoint, err_is_fatal: true, dsn: \""
                  + pgDsn(down, "down-Secret-4")
                  + "\", filesystems: {\""
                  + d
                  + "\": true}}");
      var r = snapshotter(fx, hooks).snapshot(false);

      assertThat(r.snapshotted()).containsExactlyInAnyOrder(a, c);
      assertThat(r.skipped()).containsExactlyInAnyOrder(b, d);
      assertThat(snaps(fx, a)).containsExactly(SNAP);
      assertThat(snaps(fx, b)).isEmpty();
      assertThat(snaps(fx, d)).isEmpty();
      assertThat(r.hookFailures())
          .hasSize(4)
          .anySatisfy(
              f ->
                  assertThat(f)
                      .startsWith(
                          "pre_snapshot hook postgres-checkpoint postgres@127.0.0.1:"
                              + down
                              + "/ for "
                              + a
                              + " failed: ")
                      .contains("refused"))
          .anySatisfy(
              f ->
                  assertThat(f)
                      .startsWith(
                          "pre_snapshot hook mysql-lock-tables zrepl_lock_tables@tcp(127.0.0.1:"
                              + down
                              + ")/ for "
                              + b
                              + " failed: "))
          .anySatisfy(f -> assertThat(f).contains(" for " + c + " failed: ").contains("denied"))
          .anySatisfy(
              f ->
                  assertThat(f)
                      .startsWith("pre_snapshot hook postgres-checkpoint")
                      .contains(" for " + d + " failed: "))
          .allSatisfy(f -> assertThat(f).doesNotContain("Secret"));
      // d's lock was released when d was skipped
      try (var st = writer.createStatement()) {
        assertThat(st.executeUpdate("INSERT INTO t VALUES (3)")).isEqualTo(1);
      }
    }
  }
}
