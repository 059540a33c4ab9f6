package dev.zrepl4j.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.zrepl4j.config.ConfigException.Problem;
import dev.zrepl4j.replication.InitialPolicy;
import dev.zrepl4j.replication.Protection;
import dev.zrepl4j.replication.ReceiverOptions.PlaceholderEncryption;
import dev.zrepl4j.replication.pruning.PruneRule;
import dev.zrepl4j.replication.snapshotting.SnapshotNameFormat;
import dev.zrepl4j.replication.snapshotting.Snapshotter;
import dev.zrepl4j.rpc.transport.Identities;
import dev.zrepl4j.zfs.DatasetPath;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigParserTest {

  @TempDir Path dir;

  // -------------------------------------------------------------------------------------------
  // the full example

  @Test
  void fullExampleOfZreplModernParses() throws IOException {
    var c = ConfigParser.parse(ConfigFiles.full(dir), true);

    assertThat(c.jobs())
        .extracting(Job::name)
        .containsExactly(
            "prod_to_backup",
            "backup_sink",
            "snapjob",
            "pull_from_prod",
            "local_source",
            "push_local");

    var g = c.global();
    assertThat(g.logging()).hasSize(2);
    assertThat(g.logging().get(0)).isEqualTo(DaemonConfig.LogOutlet.defaultStdout());
    assertThat(g.logging().get(1).type()).isEqualTo("syslog");
    assertThat(g.logging().get(1).level()).isEqualTo("info");
    assertThat(g.logging().get(1).format()).isEqualTo("logfmt");
    assertThat(g.monitoring()).isEqualTo(new DaemonConfig.Monitoring(":9811", false));
    assertThat(g.controlSockpath()).isEqualTo(Path.of("/var/run/zrepl/control"));
    assertThat(g.stdinserverSockdir()).isEqualTo(Path.of("/var/run/zrepl/stdinserver"));

    var push = (Job.Push) c.job("prod_to_backup").orElseThrow();
    var tls = (Connect.Tls) push.connect();
    assertThat(tls.host()).isEqualTo("backup.example.com");
    assertThat(tls.port()).isEqualTo(8888);
    assertThat(tls.ca()).isEqualTo(dir.resolve("ca.crt"));
    assertThat(tls.key()).isEqualTo(dir.resolve("prod.key"));
    assertThat(tls.serverCn()).isEqualTo("backup.example.com");
    assertThat(tls.dialTimeout()).isEqualTo(Duration.ofSeconds(10));
    assertThat(push.filesystems().test(DatasetPath.parse("zroot/usr"))).isTrue();
    assertThat(push.filesystems().test(DatasetPath.parse("zroot/tmp/x"))).isFalse();
    assertThat(push.filesystems().test(DatasetPath.parse("tank"))).isFalse();
    assertThat(push.send().options().raw()).isFalse();
    assertThat(push.send().bandwidth().unlimited()).isTrue();
    assertThat(push.send().bandwidth().bucketCapacity()).isEqualTo(128 * 1024);
    var periodic = (Snapshotting.Periodic) push.snapshotting();
    assertThat(periodic.interval()).isEqualTo(Duration.ofMinutes(10));
    assertThat(periodic.names()).isEqualTo(SnapshotNameFormat.dense("zrepl_"));
    assertThat(periodic.hooks()).hasSize(3);
    var command = (Snapshotter.CommandHook) periodic.hooks().getFirst();
    assertThat(command.path()).isEqualTo(Path.of("/etc/zrepl/hooks/x.sh"));
    assertThat(command.timeout()).isEqualTo(Duration.ofSeconds(30));
    assertThat(command.errIsFatal()).isFalse();
    var mysql = (Snapshotter.BuiltinHook) periodic.hooks().get(1);
    assertThat(mysql.name()).isEqualTo("mysql-lock-tables user@tcp(localhost:3306)/");
    assertThat(mysql.errIsFatal()).isFalse();
    assertThat(mysql.filesystems().test(DatasetPath.parse("tank/mysql"))).isTrue();
    assertThat(mysql.filesystems().test(DatasetPath.parse("tank/pg"))).isFalse();
    assertThat(mysql.pre()).isInstanceOf(MysqlLockTables.class);
    var pg = (Snapshotter.BuiltinHook) periodic.hooks().get(2);
    assertThat(pg.name()).isEqualTo("postgres-checkpoint postgres@localhost:5432/");
    assertThat(pg.filesystems().test(DatasetPath.parse("tank/pg"))).isTrue();
    assertThat(pg.pre()).isInstanceOf(PostgresCheckpoint.class);
    assertThat(push.pruning().keepSender())
        .hasSize(3)
        .first()
        .isEqualTo(new PruneRule.NotReplicated(true));
    var lastN = (PruneRule.LastN) push.pruning().keepSender().get(1);
    assertThat(lastN.count()).isEqualTo(10);
    assertThat(lastN.regex().pattern()).isEqualTo("^zrepl_");
    var grid = (PruneRule.Grid) push.pruning().keepReceiver().get(0);
    assertThat(grid.grid().intervals()).hasSize(1 + 24 + 35 + 6);
    var regex = (PruneRule.Regex) push.pruning().keepReceiver().get(1);
    assertThat(regex.negate()).isFalse();
    assertThat(push.replication()).isEqualTo(Job.ReplicationOptions.DEFAULTS);
    assertThat(push.initialReplication()).isEqualTo(InitialPolicy.MOST_RECENT);

    var sink = (Job.Sink) c.job("backup_sink").orElseThrow();
    assertThat(sink.rootFs()).isEqualTo(DatasetPath.parse("pool2/zrepl/sink"));
    var serve = (Serve.Tls) sink.serve();
    assertThat(serve.host()).isEmpty();
    assertThat(serve.port()).isEqualTo(8888);
    assertThat(serve.clientCns()).containsExactly("prod");
    assertThat(serve.handshakeTimeout()).isEqualTo(Duration.ofSeconds(10));
    assertThat(sink.recv().options().inheritProperties()).containsExactly("mountpoint");
    assertThat(sink.recv().options().overrideProperties())
        .containsExactly(Map.entry("canmount", "off"));
    assertThat(sink.recv().options().placeholderEncryption())
        .isEqualTo(PlaceholderEncryption.UNSPECIFIED);
    assertThat(sink.targets()).isEqualTo(new Job.Targets.SenderNames());

    var snap = (Job.Snap) c.job("snapjob").orElseThrow();
    var cron = (Snapshotting.Cron) snap.snapshotting();
    assertThat(cron.names().prefix()).isEqualTo("zrepl_snap_");
    var t = Instant.parse("2025-01-01T10:02:00Z");
    assertThat(cron.cron().next(t)).isEqualTo(Instant.parse("2025-01-01T10:05:00Z"));
    assertThat(snap.keep()).hasSize(2);
    assertThat(((PruneRule.Regex) snap.keep().get(1)).negate()).isTrue();

    var pull = (Job.Pull) c.job("pull_from_prod").orElseThrow();
    var ssh = (Connect.Ssh) pull.connect();
    assertThat(ssh.host()).isEqualTo("prod.example.com");
    assertThat(ssh.user()).isEqualTo("root");
    assertThat(ssh.port()).isEqualTo(22);
    assertThat(ssh.identityFile()).isEqualTo(Path.of("/etc/zrepl/ssh/identity"));
    assertThat(ssh.options()).containsExactly("Compression=yes");
    assertThat(ssh.dialTimeout()).isEqualTo(Duration.ofSeconds(10));
    assertThat(pull.interval()).isEqualTo(new Job.Interval.Manual());
    assertThat(pull.initialReplication()).isEqualTo(InitialPolicy.ALL);
    assertThat(
            ((Job.Targets.Mapped) pull.targets()).mapping().map(DatasetPath.parse("zroot/data/a")))
        .contains(DatasetPath.parse("pool2/pulled/data/a"));
    assertThat(pull.recv()).isEqualTo(Job.Recv.DEFAULTS);

    var source = (Job.Source) c.job("local_source").orElseThrow();
    var tcp = (Serve.Tcp) source.serve();
    assertThat(tcp.host()).isEqualTo("::1");
    assertThat(tcp.port()).isEqualTo(8889);
    assertThat(tcp.clients())
        .containsEntry("10.23.42.0/24", "cluster-*")
        .containsEntry("192.168.1.7", "laptop");
    assertThat(source.snapshotting()).isInstanceOf(Snapshotting.Manual.class);

    var local = (Job.Push) c.job("push_local").orElseThrow();
    assertThat(local.connect()).isEqualTo(new Connect.Local("here", "me", Duration.ofSeconds(2)));
    assertThat(local.replication())
        .isEqualTo(
            new Job.ReplicationOptions(
                Protection.GUARANTEE_NOTHING,
                Protection.GUARANTEE_RESUMABILITY,
                1,
                8,
                false,
                false));
    var names = ((Snapshotting.Cron) local.snapshotting()).names();
    assertThat(names.location()).isEqualTo("Europe/Berlin");
    assertThat(local.pruning().keepSender()).isEmpty();
  }

  /**
   * The sockets default to /var/run/zrepl4j (not zrepl's /var/run/zrepl): the package's systemd
   * unit makes that directory (RuntimeDirectory=zrepl4j zrepl4j/stdinserver, mode 0700), and zrepl
   * and zrepl4j can run side by side during a takeover.
   */
  @Test
  void defaultSocketsAreWhereThePackagesUnitPutsThem() {
    var g = ConfigParser.parse("jobs: []\n", dir.resolve("zrepl.yml")).global();
    assertThat(g.controlSockpath()).isEqualTo(Path.of("/var/run/zrepl4j/control"));
    assertThat(g.stdinserverSockdir()).isEqualTo(Path.of("/var/run/zrepl4j/stdinserver"));
  }

  @Test
  void defaultsAreZrepls() {
    var c =
        ConfigParser.parse(
            """
            jobs:
            - name: p
              type: push
              connect: {type: tcp, address: "backup:8888"}
              filesystems: {"<": true}
              snapshotting: {type: periodic, prefix: zrepl_, interval: 600}
              pruning: {keep_sender: [], keep_receiver: []}
            - name: pl
              type: pull
              connect: {type: local, listener_name: l, client_identity: c}
              root_fs: pool/x
              interval: 1h
              pruning: {keep_sender: [], keep_receiver: []}
            """,
            dir.resolve("zrepl.yml"));
    assertThat(c.global()).isEqualTo(DaemonConfig.Global.defaults());
    var p = (Job.Push) c.jobs().get(0);
    assertThat(p.connect().dialTimeout()).isEqualTo(Duration.ofSeconds(10));
    assertThat(((Snapshotting.Periodic) p.snapshotting()).interval())
        .isEqualTo(Duration.ofMinutes(10));
    assertThat(((Snapshotting.Periodic) p.snapshotting()).names().format()).isEqualTo("dense");
    assertThat(p.replication()).isEqualTo(Job.ReplicationOptions.DEFAULTS);
    assertThat(p.initialReplication()).isEqualTo(InitialPolicy.MOST_RECENT);
    assertThat(p.send().options().raw()).isFalse();
    assertThat(p.send().bandwidth()).isEqualTo(Job.BandwidthLimit.NONE);
    var pl = (Job.Pull) c.jobs().get(1);
    assertThat(pl.connect().dialTimeout()).isEqualTo(Duration.ofSeconds(2));
    assertThat(pl.interval()).isEqualTo(new Job.Interval.Every(Duration.ofHours(1)));
    assertThat(pl.recv()).isEqualTo(Job.Recv.DEFAULTS);
  }

  @Test
  void lagObjectiveIsOurExtensionKeyOnPushAndPull() {
    var c =
        ConfigParser.parse(
            """
            jobs:
            - name: p
              type: push
              connect: {type: tcp, address: "backup:8888"}
              filesystems: {"<": true}
              snapshotting: {type: periodic, prefix: zrepl_, interval: 10m}
              pruning: {keep_sender: [], keep_receiver: []}
              zrepl4j_lag_objective: 2h
            - name: pl
              type: pull
              connect: {type: local, listener_name: l, client_identity: c}
              root_fs: pool/x
              interval: 1h
              pruning: {keep_sender: [], keep_receiver: []}
              zrepl4j_lag_objective: 90m
            - name: none
              type: pull
              connect: {type: local, listener_name: l, client_identity: c}
              root_fs: pool/y
              interval: 1h
              pruning: {keep_sender: [], keep_receiver: []}
            """,
            dir.resolve("zrepl.yml"));
    assertThat(((Job.Push) c.jobs().get(0)).lagObjective()).isEqualTo(Duration.ofHours(2));
    assertThat(((Job.Pull) c.jobs().get(1)).lagObjective()).isEqualTo(Duration.ofMinutes(90));
    assertThat(((Job.Pull) c.jobs().get(2)).lagObjective()).isNull();
  }

  @Test
  void lagObjectiveMustBeAPositiveDurationAndOnlyOnActiveJobs() {
    var e =
        catchThrowableOfType(
            ConfigException.class,
            () ->
                ConfigParser.parse(
                    """
                    jobs:
                    - name: p
                      type: push
                      connect: {type: tcp, address: "backup:8888"}
                      filesystems: {"<": true}
                      snapshotting: {type: manual}
                      pruning: {keep_sender: [], keep_receiver: []}
                      zrepl4j_lag_objective: 0s
                    - name: s
                      type: sink
                      root_fs: pool/s
                      serve: {type: local, listener_name: l}
                      zrepl4j_lag_objective: 1h
                    """,
                    Path.of("a.yml")));
    assertThat(e.getMessage())
        .contains("jobs[0].zrepl4j_lag_objective")
        .contains("jobs[1].zrepl4j_lag_objective: unknown key");
  }

  @Test
  void verifyScheduleIsOurKeyOnActiveJobsWithASampleOfZeroTo64() {
    var ok =
        ConfigParser.parse(
            """
            jobs:
            - name: p
              type: push
              connect: {type: tcp, address: "backup:8888"}
              filesystems: {"<": true}
              snapshotting: {type: manual}
              pruning: {keep_sender: [], keep_receiver: []}
              zrepl4j_verify: {interval: 7d, sample: 3}
            - name: q
              type: pull
              connect: {type: local, listener_name: l, client_identity: c}
              root_fs: pool/x
              interval: 1h
              pruning: {keep_sender: [], keep_receiver: []}
              zrepl4j_verify: {interval: 12h}
            """,
            Path.of("a.yml"));
    assertThat(((Job.Push) ok.jobs().get(0)).verify())
        .isEqualTo(new Job.Verify(Duration.ofDays(7), 3));
    assertThat(((Job.Pull) ok.jobs().get(1)).verify())
        .isEqualTo(new Job.Verify(Duration.ofHours(12), 1));
    var e =
        catchThrowableOfType(
            ConfigException.class,
            () ->
                ConfigParser.parse(
                    """
                    jobs:
                    - name: p
                      type: push
                      connect: {type: tcp, address: "backup:8888"}
                      filesystems: {"<": true}
                      snapshotting: {type: manual}
                      pruning: {keep_sender: [], keep_receiver: []}
                      zrepl4j_verify: {interval: 1d, sample: 65, every: 2}
                    - name: q
                      type: pull
                      connect: {type: local, listener_name: l, client_identity: c}
                      root_fs: pool/x
                      interval: 1h
                      pruning: {keep_sender: [], keep_receiver: []}
                      zrepl4j_verify: {sample: 1}
                    - name: s
                      type: sink
                      root_fs: pool/s
                      serve: {type: local, listener_name: l}
                      zrepl4j_verify: {interval: 1d}
                    """,
                    Path.of("a.yml")));
    assertThat(e.getMessage())
        .contains("jobs[0].zrepl4j_verify.sample: must be 0 to 64 snapshots per filesystem, got 65")
        .contains("jobs[0].zrepl4j_verify.every: unknown key")
        .contains("jobs[1].zrepl4j_verify.interval")
        .contains("jobs[2].zrepl4j_verify: unknown key");
  }

  @Test
  void zfsCommandTimeoutIsOurGlobalKeyWithAGenerousDefault() {
    var jobs =
        """
        jobs:
        - name: s
          type: snap
          filesystems: {"pool<": true}
          snapshotting: {type: manual}
          pruning: {keep: []}
        """;
    assertThat(ConfigParser.parse(jobs, dir.resolve("a.yml")).global().zfsCommandTimeout())
        .isEqualTo(Duration.ofMinutes(30));
    var c =
        ConfigParser.parse(
            "global:\n  zrepl4j_zfs_command_timeout: 5m\n" + jobs, dir.resolve("b.yml"));
    assertThat(c.global().zfsCommandTimeout()).isEqualTo(Duration.ofMinutes(5));
    for (var bad : List.of("0s", "-1m", "soon")) {
      var e =
          catchThrowableOfType(
              ConfigException.class,
              () ->
                  ConfigParser.parse(
                      "global:\n  zrepl4j_zfs_command_timeout: " + bad + "\n" + jobs,
                      Path.of("c.yml")));
      assertThat(e).as(bad).isNotNull();
      assertThat(e.getMessage()).as(bad).contains("global.zrepl4j_zfs_command_timeout");
    }
  }

  @Test
  void directDataIsOurGlobalKeyOnByDefault() {
    var jobs =
        """
        jobs:
        - name: s
          type: snap
          filesystems: {"pool<": true}
          snapshotting: {type: manual}
          pruning: {keep: []}
        """;
    assertThat(ConfigParser.parse(jobs, dir.resolve("a.yml")).global().directData()).isTrue();
    assertThat(
            ConfigParser.parse(
                    "global:\n  zrepl4j_direct_data: false\n" + jobs, dir.resolve("b.yml"))
                .global()
                .directData())
        .isFalse();
    var e =
        catchThrowableOfType(
            ConfigException.class,
            () ->
                ConfigParser.parse(
                    "global:\n  zrepl4j_direct_data: sometimes\n" + jobs, Path.of("c.yml")));
    assertThat(e).isNotNull();
    assertThat(e.getMessage()).contains("global.zrepl4j_direct_data");
  }

  @Test
  void sendIntermediatesIsOurExtensionKeyUnderReplication() {
    var c =
        ConfigParser.parse(
            """
            jobs:
            - name: p
              type: push
              connect: {type: tcp, address: "backup:8888"}
              filesystems: {"<": true}
              snapshotting: {type: manual}
              pruning: {keep_sender: [], keep_receiver: []}
              replication: {zrepl4j_send_intermediates: true, zrepl4j_follow_renames: true}
            """,
            dir.resolve("zrepl.yml"));
    assertThat(((Job.Push) c.jobs().get(0)).replication().sendIntermediates()).isTrue();
    assertThat(((Job.Push) c.jobs().get(0)).replication().followRenames()).isTrue();
    var e =
        catchThrowableOfType(
            ConfigException.class,
            () ->
                ConfigParser.parse(
                    """
                    jobs:
                    - name: p
                      type: push
                      connect: {type: tcp, address: "backup:8888"}
                      filesystems: {"<": true}
                      snapshotting: {type: manual}
                      pruning: {keep_sender: [], keep_receiver: []}
                      replication: {zrepl4j_send_intermediates: sometimes, zrepl4j_follow_renames: 1}
                    """,
                    Path.of("a.yml")));
    assertThat(e.getMessage())
        .contains("jobs[0].replication.zrepl4j_send_intermediates")
        .contains("jobs[0].replication.zrepl4j_follow_renames");
  }

  @Test
  void monitoringListenFreebindIsRefusedAsNotSupported() {
    // the JDK has no IP_FREEBIND socket option: refused rather than parsed and ignored
    var e =
        catchThrowableOfType(
            ConfigException.class,
            () ->
                ConfigParser.parse(
                    """
                    global:
                      monitoring:
                        - {type: prometheus, listen: ":9811", listen_freebind: true}
                    """,
                    Path.of("a.yml")));
    assertThat(e.getMessage())
        .contains("global.monitoring[0].listen_freebind")
        .contains("not supported yet");
    var ok =
        ConfigParser.parse(
            """
            global:
              monitoring:
                - {type: prometheus, listen: "127.0.0.1:9811", listen_freebind: false}
            """,
            Path.of("a.yml"));
    assertThat(ok.global().monitoring())
        .isEqualTo(new DaemonConfig.Monitoring("127.0.0.1:9811", false));
  }

  @Test
  void emptyFileHasNoJobsAndDefaults() {
    var c = ConfigParser.parse("", dir.resolve("zrepl.yml"));
    assertThat(c.jobs()).isEmpty();
    assertThat(c.global()).isEqualTo(DaemonConfig.Global.defaults());
  }

  // -------------------------------------------------------------------------------------------
  // broken configs: each names the YAML path, and file:line:col

  @Test
  void unknownKeyIsNamedWithSuggestion() {
    assertProblem(
        "unknown-key.yml",
        11,
        5,
        "jobs[0].serve.client_cn",
        "unknown key (did you mean client_cns?)");
  }

  @Test
  void wrongTypeIsNamed() {
    assertProblem("wrong-type.yml", 4, 16, "jobs[0].filesystems", "expected a map, got a list");
  }

  @Test
  void badDurationIsNamed() {
    assertProblem(
        "bad-duration.yml",
        8,
        15,
        "jobs[0].snapshotting.interval",
        "invalid duration '10 minutes'");
  }

  @Test
  void badSizeIsNamed() {
    assertProblem(
        "bad-size.yml", 7, 28, "jobs[0].recv.bandwidth_limit.max", "invalid data size '10 MiBps'");
  }

  @Test
  void duplicateJobNameAcrossIncludeIsNamedInBothFiles() {
    ConfigFiles.copy(dir, "broken/dup-included.yml");
    var problems = problems("dup-main.yml");
    assertThat(problems)
        .anySatisfy(
            p -> {
              assertThat(p.file().getFileName()).hasToString("dup-main.yml");
              assertThat(p.line()).isEqualTo(7);
              assertThat(p.path()).isEqualTo("jobs[1].name");
              assertThat(p.message()).contains("duplicate job name 'a'", "dup-main.yml:3:9");
            })
        .anySatisfy(
            p -> {
              assertThat(p.file().getFileName()).hasToString("dup-included.yml");
              assertThat(p.line()).isEqualTo(2);
              assertThat(p.path()).isEqualTo("jobs[0].name");
              assertThat(p.message()).contains("duplicate job name 'a'");
            });
  }

  @Test
  void missingRootFsIsNamed() {
    assertProblem("missing-root-fs.yml", 2, 3, "jobs[0].root_fs", "required key is missing");
  }

  @Test
  void sinkWithoutServeIsNamed() {
    assertProblem("sink-without-serve.yml", 2, 3, "jobs[0].serve", "required key is missing");
  }

  @Test
  void mappingOnSinkAndPullIsParsed() {
    var c =
        ConfigParser.parse(
            """
            jobs:
            - name: sink1
              type: sink
              root_fs: pool/sink
              serve: {type: tcp, listen: ":8888", clients: {"127.0.0.1": "c"}}
              mapping: {"src/data<": "backup/d", "src/other": "misc/o"}
            - name: pull1
              type: pull
              connect: {type: tcp, address: "127.0.0.1:8888"}
              root_fs: pool/pulled
              interval: manual
              mapping: {"zroot/data<": "pool/pulled/data"}
              pruning: {keep_sender: [{type: not_replicated}], keep_receiver: [{type: last_n, count: 3}]}
            """,
            Path.of("a.yml"));
    var sink = (Job.Sink) c.job("sink1").orElseThrow();
    var m = ((Job.Targets.Mapped) sink.targets()).mapping();
    assertThat(m.map(DatasetPath.parse("src/data/x"))).contains(DatasetPath.parse("backup/d/x"));
    assertThat(m.map(DatasetPath.parse("src/other"))).contains(DatasetPath.parse("misc/o"));
    assertThat(m.map(DatasetPath.parse("src/unmapped"))).isEmpty();
    var pull = (Job.Pull) c.job("pull1").orElseThrow();
    assertThat(((Job.Targets.Mapped) pull.targets()).mapping().map(DatasetPath.parse("zroot/data")))
        .contains(DatasetPath.parse("pool/pulled/data"));
  }

  @Test
  void mappingsAReceiverCannotUseAreNamed() {
    var problems = problems("bad-mapping.yml");
    assertHas(problems, 6, "jobs[0].mapping", "'a<' and 'b<' both map onto the subtree x");
    assertHas(problems, 12, "jobs[1].mapping", "pool/elsewhere/data is not below pool/pulled");
    assertHas(problems, 19, "jobs[2].mapping", "rule '<' drops the pool name");
    assertThat(problems).hasSize(3);
  }

  @Test
  void badCidrAndCidrIdentityWithoutStarAreNamed() {
    var problems = problems("bad-cidr.yml");
    assertHas(problems, 10, "jobs[0].serve.clients.10.0.0.0/33", "prefix length '33'");
    assertHas(problems, 11, "jobs[0].serve.clients.10.1.0.0/16", "must contain '*'");
    assertHas(problems, 12, "jobs[0].serve.clients.bogus.example.com", "not an IP address");
    assertHas(problems, 13, "jobs[0].serve.clients.192.168.0.1", "invalid client identity");
    assertThat(problems).hasSize(4);
  }

  @Test
  void badGridIsNamed() {
    assertProblem(
        "bad-grid.yml", 8, 26, "jobs[0].pruning.keep[0].grid", "invalid retention grid term '24x'");
  }

  @Test
  void unknownJobTypeIsNamed() {
    assertProblem(
        "unknown-job-type.yml",
        3,
        9,
        "jobs[0].type",
        "unknown job type 'replicate' (expected push, sink, pull, source or snap)");
  }

  @Test
  void badDatasetNameInFilesystemsIsNamed() {
    var problems = problems("bad-dataset-filesystems.yml");
    assertHas(problems, 6, "jobs[0].filesystems.tank/foo@snap", "forbidden characters");
    assertThat(problems).hasSize(1);
  }

  @Test
  void includeInIncludedFileIsRefused() {
    ConfigFiles.copy(dir, "broken/include-nested.yml");
    ConfigFiles.copy(dir, "broken/dup-included.yml");
    var problems = problems("include-main.yml");
    assertThat(problems).hasSize(1);
    var p = problems.getFirst();
    assertThat(p.file().getFileName()).hasToString("include-nested.yml");
    assertThat(p.line()).isEqualTo(1);
    assertThat(p.path()).isEqualTo("include");
    assertThat(p.message()).contains("not allowed in an included file");
  }

  @Test
  void badCronIsNamed() {
    assertProblem(
        "bad-cron.yml", 8, 11, "jobs[0].snapshotting.cron", "invalid cron expression '61 * * * *'");
  }

  /**
   * A source job's client keeps a cursor and step holds named {@code <job>_C_<client>}: a client
   * identity that makes that name too long is refused by configcheck, not at the client's first
   * call.
   */
  @Test
  void aSourceClientWhoseCursorNameWouldBeTooLongIsRefused() {
    var client = "c".repeat(120);
    var e =
        catchThrowableOfType(
            ConfigException.class,
            () ->
                ConfigParser.parse(
                    """
                    jobs:
                    - name: source1
                      type: source
                      serve: {type: stdinserver, client_identities: [ok, %s]}
                      filesystems: {"tank<": true}
                      snapshotting: {type: manual}
                    """
                        .formatted(client),
                    Path.of("a.yml")));
    assertThat(e.problems())
        .singleElement()
        .asString()
        .startsWith("a.yml:4:10: jobs[0].serve: client '" + client + "' of source job source1")
        .contains("cannot name its cursor and step holds 'source1_C_" + client + "'")
        .contains("use 1-128 of A-Z a-z 0-9 _ . : -");
  }

  /** configcheck accepted "my sink", which the daemon's Receiver then refused at start. */
  @Test
  void issue12_replicatingJobNamesFollowTheDaemonsRule() {
    var e =
        catchThrowableOfType(
            ConfigException.class,
            () ->
                ConfigParser.parse(
                    """
                    jobs:
                    - name: my sink
                      type: sink
                      root_fs: pool/sink
                      serve: {type: stdinserver, client_identities: [a]}
                    - name: my snaps
                      type: snap
                      filesystems: {"tank<": true}
                      snapshotting: {type: manual}
                      pruning: {keep: []}
                    """,
                    Path.of("a.yml")));
    assertThat(e.problems())
        .singleElement()
        .hasToString(
            "a.yml:2:9: jobs[0].name: invalid job name 'my sink': use 1-128 of A-Z a-z 0-9 _ . :"
                + " - (a sink job's name becomes part of ZFS hold tags and bookmark names)");
  }

  @Test
  void invalidAndReservedJobNamesAreNamed() {
    var problems = problems("invalid-job-name.yml");
    assertHas(problems, 2, "jobs[0].name", "invalid job name 'bad/name'");
    assertHas(problems, 6, "jobs[1].name", "names starting with '_' are reserved");
    assertThat(problems).hasSize(2);
  }

  @Test
  void databaseHooksNeedAValidDsnAndFilesystemsAndNeverShowThePassword() {
    var problems = problems("bad-db-hooks.yml");
    assertHas(problems, 10, "jobs[0].snapshotting.hooks[0].dsn", "missing '=' after the word");
    assertHas(problems, 11, "jobs[0].snapshotting.hooks[1].dsn", "unsupported sslmode 'prefer'");
    assertHas(problems, 12, "jobs[0].snapshotting.hooks[2].filesystems", "required key is missing");
    assertHas(problems, 13, "jobs[0].snapshotting.hooks[3].dsn", "missing the slash");
    assertHas(
        problems, 14, "jobs[0].snapshotting.hooks[4].dsn", "invalid duration '5x' of timeout");
    assertHas(problems, 15, "jobs[0].snapshotting.hooks[5].dsn", "required key is missing");
    assertHas(problems, 16, "jobs[0].snapshotting.hooks[6].type", "unknown hook type 'mysql'");
    assertThat(problems).hasSize(7);
    assertThat(problems).allSatisfy(p -> assertThat(p.toString()).doesNotContain("hunter2"));
  }

  @Test
  void nonDefaultValuesOfUnimplementedKeysAreNotSupportedYet() {
    var problems = problems("not-supported.yml");
    assertHas(problems, 6, "jobs[0].send.saved", "not supported yet");
    assertHas(problems, 6, "jobs[0].send.backup_properties", "not supported yet");
    assertHas(problems, 12, "jobs[1].serve.listen_freebind", "not supported yet");
    assertThat(problems).hasSize(3);
  }

  @Test
  void everyProblemOfAFileIsReported() {
    var problems = problems("many-problems.yml");
    assertHas(problems, 3, "global.logging[0].level", "invalid value 'loud'");
    assertHas(problems, 5, "global.monitoring[0].listen", "missing port");
    assertHas(problems, 9, "jobs[0].connect.dial_timeout", "invalid duration '1x'");
    assertHas(problems, 10, "jobs[0].filesystems.tank<", "expected a bool");
    assertHas(problems, 11, "jobs[0].snapshotting.prefix", "snapshot prefix 'bad prefix'");
    assertHas(problems, 13, "jobs[0].pruning.keep_sender[0].count", "must be >= 0");
    assertHas(problems, 14, "jobs[0].pruning.keep_receiver[0].regex", "invalid regex");
    assertHas(problems, 15, "jobs[0].replication.concurrency.steps", "must be at least 1");
    assertHas(problems, 16, "jobs[0].conflict_resolution.initial_replication", "'newest'");
    assertHas(problems, 19, "jobs[1].connect.address", "missing port");
    assertHas(problems, 21, "jobs[1].interval", "invalid duration 'sometimes'");
    assertHas(problems, 23, "jobs[1].send", "unknown key");
    assertThat(problems).hasSize(12);
  }

  @Test
  void exceptionMessageListsProblemsLikeACompiler() {
    var e =
        catchThrowableOfType(
            ConfigException.class,
            () -> ConfigParser.parse("jobs: [{name: x, type: snap, bogus: 1}]", Path.of("a.yml")));
    assertThat(e.getMessage())
        .startsWith("4 problems in the configuration:")
        .contains("a.yml:1:8: jobs[0].filesystems: required key is missing");
  }

  @Test
  void invalidYamlIsReportedWithItsPosition() {
    var e =
        catchThrowableOfType(
            ConfigException.class,
            () -> ConfigParser.parse("jobs:\n  - name: [x\n", Path.of("a.yml")));
    assertThat(e.problems())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.message()).startsWith("invalid YAML");
              assertThat(p.line()).isGreaterThan(0);
            });
  }

  @Test
  void duplicateKeysAreErrors() {
    var e =
        catchThrowableOfType(
            ConfigException.class,
            () -> ConfigParser.parse("jobs: []\njobs: []\n", Path.of("a.yml")));
    assertThat(e.problems()).singleElement().hasToString("a.yml:2:1: jobs: duplicate key");
  }

  @Test
  void tlsFilesAreCheckedOnlyWhenAsked() throws IOException {
    var main = ConfigFiles.full(dir);
    Files.delete(dir.resolve("prod.key"));
    Files.writeString(dir.resolve("backup.crt"), "garbage");
    assertThat(ConfigParser.parse(main).jobs()).hasSize(6);
    var e = catchThrowableOfType(ConfigException.class, () -> ConfigParser.parse(main, true));
    assertThat(e.problems()).hasSize(2);
    assertHas(
        e.problems(),
        30,
        "jobs[0].connect.key",
        "file " + dir.resolve("prod.key") + " does not exist");
    assertHas(
        e.problems(),
        77,
        "jobs[1].serve.cert",
        dir.resolve("backup.crt") + ": no PEM certificate (-----BEGIN CERTIFICATE-----) found");
  }

  @Test
  void missingIncludeIsNamed() {
    assertThatThrownBy(
            () ->
                ConfigParser.parse(
                    "include: [nope.yml, ./nodir/]\njobs: []\n", dir.resolve("zrepl.yml")))
        .isInstanceOfSatisfying(
            ConfigException.class,
            e -> {
              assertHas(e.problems(), 1, "include[0]", "does not exist");
              assertHas(e.problems(), 1, "include[1]", "does not exist");
            });
  }

  @Test
  void unreadableMainFileIsOneProblem() {
    var e =
        catchThrowableOfType(
            ConfigException.class, () -> ConfigParser.parse(dir.resolve("missing.yml")));
    assertThat(e.problems()).singleElement().satisfies(p -> assertThat(p.line()).isZero());
  }

  @Test
  void defaultPathIsTheFirstThatExists() throws IOException {
    var a = dir.resolve("a.yml");
    var b = dir.resolve("b.yml");
    var c = dir.resolve("c.yml");
    assertThat(ConfigParser.defaultPath(List.of(a, b, c))).isEmpty();
    Files.writeString(c, "");
    assertThat(ConfigParser.defaultPath(List.of(a, b, c))).contains(c);
    Files.writeString(b, "");
    assertThat(ConfigParser.defaultPath(List.of(a, b, c))).contains(b);
    assertThat(ConfigParser.DEFAULT_PATHS)
        .extracting(Path::toString)
        .containsExactly(
            "/etc/zrepl4j/zrepl.yml", "/etc/zrepl/zrepl.yml", "/usr/local/etc/zrepl/zrepl.yml");
  }

  @Test
  void hostPortFollowsGoSplitHostPort() {
    assertThat(TransportParser.splitHostPort(":8888"))
        .isEqualTo(new TransportParser.HostPort("", 8888));
    assertThat(TransportParser.splitHostPort("[::1]:8888"))
        .isEqualTo(new TransportParser.HostPort("::1", 8888));
    assertThat(TransportParser.splitHostPort("host.example:1"))
        .isEqualTo(new TransportParser.HostPort("host.example", 1));
    assertThatThrownBy(() -> TransportParser.splitHostPort("::1:8888"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "invalid address '::1:8888': too many colons (write an IPv6 address as [ADDR]:PORT)");
    assertThatThrownBy(() -> TransportParser.splitHostPort("host"))
        .hasMessage("invalid address 'host': missing port (expected HOST:PORT or :PORT)");
    assertThatThrownBy(() -> TransportParser.splitHostPort("host:99999"))
        .hasMessage("invalid address 'host:99999': port '99999' must be a number from 0 to 65535");
    assertThatThrownBy(() -> TransportParser.splitHostPort("[::1]"))
        .hasMessage("invalid address '[::1]': missing port (expected [HOST]:PORT)");
  }

  @Test
  void cidrsAndAddressesAreChecked() {
    assertThat(TransportParser.cidrProblem("10.0.0.1")).isEmpty();
    assertThat(TransportParser.cidrProblem("10.0.0.0/8")).isEmpty();
    assertThat(TransportParser.cidrProblem("fd00::/8")).isEmpty();
    assertThat(TransportParser.cidrProblem("::1")).isEmpty();
    assertThat(TransportParser.cidrProblem("10.0.0.256")).isPresent();
    assertThat(TransportParser.cidrProblem("10.0.0.0/33")).isPresent();
    assertThat(TransportParser.cidrProblem("fd00::/129")).isPresent();
    assertThat(TransportParser.cidrProblem("localhost")).isPresent();
  }

  @Test
  void componentNamesFollowZfs() {
    assertThat(Identities.problem("prod_to-backup.1:a b")).isEmpty();
    assertThat(Identities.problem("")).isPresent();
    assertThat(Identities.problem("a/b")).isPresent();
    assertThat(Identities.problem("a@b")).isPresent();
    assertThat(Identities.problem("..")).isPresent();
  }

  // -------------------------------------------------------------------------------------------

  private List<Problem> problems(String name) {
    var file = ConfigFiles.copy(dir, "broken/" + name);
    var e = catchThrowableOfType(ConfigException.class, () -> ConfigParser.parse(file));
    assertThat(e).as("parsing %s must fail", name).isNotNull();
    return e.problems();
  }

  private void assertProblem(String name, int line, int column, String path, String message) {
    var problems = problems(name);
    assertThat(problems)
        .as("problems of %s", name)
        .anySatisfy(
            p -> {
              assertThat(p.file().getFileName()).hasToString(name);
              assertThat(p.line()).isEqualTo(line);
              assertThat(p.column()).isEqualTo(column);
              assertThat(p.path()).isEqualTo(path);
              assertThat(p.message()).contains(message);
              assertThat(p.toString())
                  .contains(name + ":" + line + ":" + column + ": " + path + ": ");
            });
  }

  private static void assertHas(List<Problem> problems, int line, String path, String message) {
    assertThat(problems)
        .anySatisfy(
            p -> {
              assertThat(p.line()).isEqualTo(line);
              assertThat(p.path()).isEqualTo(path);
              assertThat(p.message()).contains(message);
            });
  }
}
