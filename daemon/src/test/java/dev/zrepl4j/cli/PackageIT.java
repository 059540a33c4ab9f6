package dev.zrepl4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.zrepl4j.replication.FuseFixture;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Debian package, for real on this machine: {@code packaging/build --no-maven} makes it from
 * the jars this Maven run built, an older version of it (the same tree with a lower version) is
 * installed with {@code dpkg -i}, its config changed, the new one installed over it (the change
 * stays; the maintainer script says it did not restart anything), the installed files, unit ({@code
 * systemd-analyze verify}), man page and {@code zrepl4j version} are checked, the INSTALLED {@code
 * /usr/bin/zrepl4j} runs a daemon that replicates a zfs-fuse dataset (push and sink in one daemon,
 * over {@code local}) until the snapshot arrives, an upgrade while that daemon runs leaves it
 * running and says a restart is needed, and {@code dpkg -r} / {@code --purge} clean up. PID 1 here
 * is not systemd: the unit is verified, not started ({@code systemctl start} is not exercised).
 *
 * <p>Needs root and dpkg (CI: a Debian 12 machine as root); elsewhere it is skipped unless {@code
 * CI=true}. It installs and finally purges the package {@code zrepl4j} on the machine (one run at a
 * time: a lock file in /tmp).
 */
@Timeout(900)
class PackageIT {
  private static final Path REPO = Path.of("..").toAbsolutePath().normalize();
  private static final Path OUT = Path.of("target/package-it").toAbsolutePath();
  private static final Path BIN = Path.of("/usr/bin/zrepl4j");
  private static final Path CONFIG = Path.of("/etc/zrepl4j/zrepl.yml");

  @TempDir Path dir;

  @Test
  void buildsInstallsReplicatesUpgradesAndPurges() throws Exception {
    boolean root = "root".equals(System.getProperty("user.name"));
    boolean dpkg = Files.isExecutable(Path.of("/usr/bin/dpkg"));
    if (!"true".equals(System.getenv("CI"))) {
      Assumptions.assumeTrue(root && dpkg, "needs root and dpkg (CI=true makes this fatal)");
    }
    assertThat(root).as("PackageIT runs as root").isTrue();
    assertThat(dpkg).as("dpkg present").isTrue();
    try (var lockFile =
            FileChannel.open(
                Path.of("/tmp/zrepl4j-package-it.lock"),
                StandardOpenOption.CREATE,
                StandardOpenOption.WRITE);
        var lock = lockFile.lock()) {
      scenario();
    }
  }

  private void scenario() throws Exception {
    // --- build (the jlink runtime is cached in target/package-it/cache across runs) ------------
    var built =
        ok(
            List.of(
                REPO.resolve("packaging/build").toString(), "--no-maven", "--out", OUT.toString()),
            600);
    var lines = built.out().strip().lines().toList();
    var deb = Path.of(lines.get(lines.size() - 2));
    var tgz = Path.of(lines.get(lines.size() - 1));
    assertThat(deb.getFileName().toString()).matches("zrepl4j_[0-9][^_]*_amd64\\.deb");
    assertThat(tgz.getFileName().toString()).matches("zrepl4j-[0-9].*-linux-amd64\\.tar\\.gz");
    var version = ok(List.of("dpkg-deb", "-f", deb.toString(), "Version"), 60).out().strip();
    assertThat(ok(List.of("tar", "-tzf", tgz.toString()), 60).out())
        .contains(
            "/usr/bin/zrepl4j",
            "/usr/lib/zrepl4j/zrepl4j.aot",
            "/lib/systemd/system/zrepl4j.service");

    // --- an older version: the same tree, version 0.0.1~it --------------------------------------
    var oldTree = dir.resolve("old");
    ok(List.of("dpkg-deb", "-R", deb.toString(), oldTree.toString()), 120);
    var control = oldTree.resolve("DEBIAN/control");
    Files.writeString(
        control, Files.readString(control).replaceFirst("(?m)^Version: .*$", "Version: 0.0.1~it"));
    var oldDeb = dir.resolve("zrepl4j_0.0.1~it_amd64.deb");
    ok(
        List.of(
            "dpkg-deb",
            "--root-owner-group",
            "-Zgzip",
            "-z1",
            "-b",
            oldTree.toString(),
            oldDeb.toString()),
        300);

    dpkg("--purge", "zrepl4j");
    assertThat(BIN).doesNotExist();

    // --- install the old one, change its config, upgrade: the change stays ----------------------
    assertThat(dpkg("-i", oldDeb.toString()).out()).contains("zrepl4j: installed.");
    assertThat(Files.readString(CONFIG)).contains("jobs: []");
    // enabled for multi-user.target by the postinst (deb-systemd-helper works without systemd)
    var wants = Path.of("/etc/systemd/system/multi-user.target.wants/zrepl4j.service");
    boolean helper = Files.isExecutable(Path.of("/usr/bin/deb-systemd-helper"));
    if (helper) {
      assertThat(wants).isSymbolicLink();
    }
    var marker = "# changed by PackageIT " + UUID.randomUUID();
    Files.writeString(CONFIG, marker + "\n", StandardOpenOption.APPEND);
    var upgrade = dpkg("-i", deb.toString());
    assertThat(upgrade.out())
        .contains("zrepl4j: upgraded from 0.0.1~it; the daemon is not running");
    assertThat(Files.readString(CONFIG)).contains(marker);
    assertThat(ok(List.of("dpkg-query", "-W", "-f=${Version}", "zrepl4j"), 60).out())
        .isEqualTo(version);

    // --- the files -----------------------------------------------------------------------------
    assertThat(BIN).isExecutable();
    assertThat(ok(List.of("dpkg-query", "-W", "-f=${Conffiles}", "zrepl4j"), 60).out())
        .contains("/etc/zrepl4j/zrepl.yml", "/etc/default/zrepl4j");
    for (var f :
        List.of(
            "/lib/systemd/system/zrepl4j.service",
            "/usr/lib/zrepl4j/runtime/bin/java",
            "/usr/lib/zrepl4j/zrepl4j.aot",
            "/usr/share/man/man1/zrepl4j.1.gz",
            "/usr/share/man/man1/zrepl4j-status.1.gz",
            "/usr/share/bash-completion/completions/zrepl4j",
            "/usr/share/zsh/vendor-completions/_zrepl4j",
            "/usr/share/doc/zrepl4j/copyright",
            "/usr/share/doc/zrepl4j/THIRD-PARTY",
            "/usr/share/doc/zrepl4j/examples/zrepl.yml")) {
      assertThat(Path.of(f)).as(f).isRegularFile();
    }
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(CONFIG.getParent())))
        .isEqualTo("rwx------");
    assertThat(Files.readString(Path.of("/usr/share/doc/zrepl4j/copyright")))
        .contains("License: MIT");
    // the repository's THIRD-PARTY is the one the package ships (regenerate it when the
    // dependencies change: the command is in its header)
    assertThat(Files.readString(Path.of("/usr/share/doc/zrepl4j/THIRD-PARTY")))
        .as("THIRD-PARTY of the repository vs the package's")
        .isEqualTo(Files.readString(REPO.resolve("THIRD-PARTY")));
    assertThat(Files.readString(Path.of("/usr/share/doc/zrepl4j/THIRD-PARTY")))
        .contains("org.mariadb.jdbc:mariadb-java-client", "LGPL-2.1", "info.picocli:picocli");
    // the LGPL driver is its own jar, not inside ours
    try (var libs = Files.list(Path.of("/usr/lib/zrepl4j/lib"))) {
      assertThat(libs.map(p -> p.getFileName().toString()).toList())
          .anyMatch(n -> n.startsWith("mariadb-java-client-"));
    }
    try (var ours = new ZipFile("/usr/lib/zrepl4j/lib/zrepl4j-daemon.jar")) {
      assertThat(ours.stream().map(e -> e.getName()).filter(n -> n.startsWith("org/mariadb")))
          .isEmpty();
    }
    assertThat(Files.readString(Path.of("/usr/share/bash-completion/completions/zrepl4j")))
        .contains("status", "signal", "configcheck");

    // --- the unit passes systemd-analyze verify (and the check can fail: a broken copy) --------
    ok(List.of("systemd-analyze", "verify", "/lib/systemd/system/zrepl4j.service"), 120);
    var broken = dir.resolve("zrepl4j.service");
    Files.writeString(
        broken,
        Files.readString(Path.of("/lib/systemd/system/zrepl4j.service"))
            .replace("ExecStart=/usr/bin/zrepl4j", "ExecStart=/usr/bin/zrepl4j-missing"));
    assertThat(run(List.of("systemd-analyze", "verify", broken.toString()), Map.of(), 120).exit())
        .as("systemd-analyze verify of a unit whose ExecStart does not exist")
        .isNotZero();
    var unit = Files.readString(Path.of("/lib/systemd/system/zrepl4j.service"));
    assertThat(unit)
        .contains(
            "ExecStart=/usr/bin/zrepl4j --config /etc/zrepl4j/zrepl.yml daemon",
            "RuntimeDirectory=zrepl4j",
            "RuntimeDirectoryMode=0700",
            "SuccessExitStatus=143",
            "ProtectSystem=strict");

    // --- version, man page, configcheck of the shipped config ----------------------------------
    var upstream = version.replace('~', '-');
    // no daemon runs yet: the client's version alone (zrepl's `version` fails without a daemon)
    assertThat(ok(List.of(BIN.toString(), "version", "--show", "client"), 60).out())
        .contains("zrepl4j version=" + upstream);
    assertThat(ok(List.of("man", "-w", "zrepl4j"), 60).out().strip())
        .isEqualTo("/usr/share/man/man1/zrepl4j.1.gz");
    var page =
        ok(List.of("man", "zrepl4j-status"), Map.of("MANPAGER", "cat", "MANWIDTH", "100"), 60)
            .out();
    assertThat(page).contains("zrepl4j-status", "SYNOPSIS", "--json");
    ok(List.of(BIN.toString(), "configcheck", "--config", CONFIG.toString()), 60);

    // --- the installed command replicates -------------------------------------------------------
    try (var fx = FuseFixture.create("pkgit", 128)) {
      FuseFixture.run("zfs", "create", fx.path("src").toString());
      FuseFixture.run("zfs", "create", fx.path("sink").toString());
      Files.writeString(fx.mounted("src").resolve("hello.txt"), "from the installed zrepl4j\n");
      // the daemon's default sockets (/var/run/zrepl4j/...: what the unit's RuntimeDirectory makes
      // and what the package's postinst looks for)
      var cfg = dir.resolve("zrepl.yml");
      Files.writeString(
          cfg,
          """
          global:
            logging: [{type: stdout, level: info, format: human}]
          jobs:
            - name: sink
              type: sink
              root_fs: %s
              serve: {type: local, listener_name: pkgit}
              recv: {placeholder: {encryption: off}}
            - name: push
              type: push
              connect: {type: local, listener_name: pkgit, client_identity: pkgit}
              filesystems: {"%s": true}
              snapshotting: {type: periodic, prefix: zrepl_, interval: 10m}
              pruning:
                keep_sender: [{type: not_replicated}, {type: last_n, count: 10}]
                keep_receiver: [{type: last_n, count: 10}]
          """
              .formatted(fx.path("sink"), fx.path("src")));
      // zrepl's unit form (`--config F daemon`) once the command has a global --config; until
      // then the subcommand's option
      boolean global =
          run(List.of(BIN.toString(), "--config", cfg.toString(), "configcheck"), Map.of(), 60)
                  .exit()
              == 0;
      var argv =
          global
              ? List.of(BIN.toString(), "--config", cfg.toString(), "daemon")
              : List.of(BIN.toString(), "daemon", "--config", cfg.toString());
      var log = dir.resolve("daemon.log");
      var daemon =
          new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(log.toFile()).start();
      try {
        var replica = fx.path("sink") + "/pkgit/" + fx.path("src");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
        String snaps = "";
        while (System.nanoTime() < deadline) {
          if (!daemon.isAlive()) {
            fail(
                "the installed daemon exited with "
                    + daemon.exitValue()
                    + ":\n"
                    + Files.readString(log));
          }
          var r =
              run(
                  List.of(
                      "zfs",
                      "list",
                      "-H",
                      "-t",
                      "snapshot",
                      "-o",
                      "name",
                      "-r",
                      fx.path("sink").toString()),
                  Map.of(),
                  60);
          snaps = r.out();
          if (snaps.contains(replica + "@zrepl_")) {
            break;
          }
          Thread.sleep(500);
        }
        assertThat(snaps)
            .as("snapshots on the sink; daemon log:\n%s", Files.readString(log))
            .contains(replica + "@zrepl_");
        var status =
            ok(List.of(BIN.toString(), "status", "--json", "--config", cfg.toString()), 60).out();
        assertThat(status).contains("\"push\"", "\"sink\"");

        assertThat(Path.of("/var/run/zrepl4j/control")).exists();

        // an upgrade (here: the same version again) while the daemon runs: not restarted, and said
        var reinstall = dpkg("-i", deb.toString());
        assertThat(reinstall.out())
            .contains(
                "zrepl4j: upgraded from " + version + ". The running daemon was NOT restarted",
                "systemctl restart zrepl4j");
        assertThat(daemon.isAlive()).as("daemon alive after the upgrade").isTrue();
        assertThat(
                ok(List.of(BIN.toString(), "status", "--json", "--config", cfg.toString()), 60)
                    .out())
            .as("the same daemon answers after the upgrade")
            .contains("\"push\"");
      } finally {
        daemon.destroy();
        if (!daemon.waitFor(60, TimeUnit.SECONDS)) {
          daemon.destroyForcibly();
          fail(
              "the installed daemon did not exit within 60 s of SIGTERM:\n"
                  + Files.readString(log));
        }
      }
      // the runtime directory the daemon made (systemd's RuntimeDirectory= would remove it too)
      for (var d : List.of("/var/run/zrepl4j/stdinserver", "/var/run/zrepl4j")) {
        try {
          Files.deleteIfExists(Path.of(d));
        } catch (DirectoryNotEmptyException e) {
          // another daemon's sockets: leave them
        }
      }
    }

    // --- remove keeps the config, purge removes it ----------------------------------------------
    dpkg("-r", "zrepl4j");
    assertThat(BIN).doesNotExist();
    assertThat(Path.of("/usr/lib/zrepl4j")).doesNotExist();
    assertThat(Path.of("/lib/systemd/system/zrepl4j.service")).doesNotExist();
    assertThat(Files.readString(CONFIG)).contains(marker);
    dpkg("--purge", "zrepl4j");
    assertThat(CONFIG.getParent()).doesNotExist();
    assertThat(Path.of("/etc/default/zrepl4j")).doesNotExist();
    assertThat(run(List.of("dpkg-query", "-W", "zrepl4j"), Map.of(), 60).exit()).isNotZero();
    // no enablement or mask left behind
    assertThat(Files.exists(wants, LinkOption.NOFOLLOW_LINKS)).as(wants.toString()).isFalse();
    var mask = Path.of("/etc/systemd/system/zrepl4j.service");
    assertThat(Files.exists(mask, LinkOption.NOFOLLOW_LINKS)).as(mask.toString()).isFalse();
  }

  /** dpkg ARGS, retried while another dpkg/apt holds its lock (other tests of this machine). */
  private static Result dpkg(String... args) throws IOException {
    var argv = new ArrayList<>(List.of("dpkg"));
    argv.addAll(List.of(args));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
    while (true) {
      var r = run(argv, Map.of("DEBIAN_FRONTEND", "noninteractive"), 300);
      if (r.exit() == 0) {
        return r;
      }
      if (!(r.err() + r.out()).contains("lock") || System.nanoTime() > deadline) {
        fail(argv + " exited with " + r.exit() + ":\n" + r.out() + r.err());
      }
      try {
        Thread.sleep(1000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException();
      }
    }
  }

  record Result(int exit, String out, String err) {}

  private static Result ok(List<String> argv, int seconds) throws IOException {
    return ok(argv, Map.of(), seconds);
  }

  private static Result ok(List<String> argv, Map<String, String> env, int seconds)
      throws IOException {
    var r = run(argv, env, seconds);
    assertThat(r.exit()).as("%s:\n%s%s", argv, r.out(), r.err()).isZero();
    return r;
  }

  private static Result run(List<String> argv, Map<String, String> env, int seconds)
      throws IOException {
    var pb = new ProcessBuilder(argv);
    pb.environment().putAll(env);
    var p = pb.start();
    p.getOutputStream().close();
    var err = new StringBuilder();
    var t =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    err.append(
                        new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
                  } catch (IOException e) {
                    err.append(e);
                  }
                });
    var out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        fail(argv + " did not finish within " + seconds + " s");
      }
      t.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException();
    }
    return new Result(p.exitValue(), out, err.toString());
  }
}
