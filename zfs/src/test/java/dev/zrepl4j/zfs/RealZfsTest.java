package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * RealZfs against mock {@code zfs} shell scripts (the seed's ZFSError test and process hygiene).
 */
class RealZfsTest {
  @TempDir Path dir;

  private List<String> script(String name, String body) throws IOException {
    var p = dir.resolve(name);
    Files.writeString(p, "#!/bin/sh\n" + body + "\n");
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
    return List.of(p.toString());
  }

  private RealZfs zfs(List<String> bin, ZfsCapabilities caps) {
    return RealZfs.withCapabilities(bin, List.of("false"), caps);
  }

  /**
   * The direct data path only spawns {@code zfs} itself: a wrapper script (the test guest's, over
   * ssh) or a command of several words keeps the relay.
   */
  @Test
  void onlyAProgramThatIsNoScriptTakesTheDirectPath(@org.junit.jupiter.api.io.TempDir Path dir)
      throws IOException {
    assertThat(RealZfs.isProgram(List.of("sh"))).as("on PATH, an ELF executable").isTrue();
    assertThat(RealZfs.isProgram(List.of("/bin/sh"))).isTrue();
    var script = dir.resolve("zfs");
    Files.writeString(script, "#!/bin/sh\nexec ssh guest zfs \"$@\"\n");
    Files.setPosixFilePermissions(
        script, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    assertThat(RealZfs.isProgram(List.of(script.toString()))).as("a wrapper script").isFalse();
    assertThat(RealZfs.isProgram(List.of("sudo", "zfs"))).isFalse();
    assertThat(RealZfs.isProgram(List.of(dir.resolve("missing").toString()))).isFalse();
  }

  @Test
  void listProducesZfsExceptionWithExactStderrOnNonZeroExit() throws IOException {
    var bin = script("zfs", "echo 'error: this is a mock' >&2\nexit 1");
    var z = zfs(bin, ZfsCapabilities.openZfs("zfs-mock"));
    assertThatThrownBy(() -> z.listFilesystems(List.of(), p -> true))
        .isInstanceOfSatisfying(
            ZfsException.class,
            e -> {
              assertThat(e.stderr()).isEqualTo("error: this is a mock\n");
              assertThat(e.exitStatus()).isEqualTo(1);
              assertThat(e.argv()).startsWith(bin.getFirst()).contains("list");
              assertThat(e.getMessage()).contains("error: this is a mock");
            });
  }

  @Test
  void propertiesOfExistingDatasetsTolerateOnlyMissingDatasets() throws IOException {
    var rows = "printf 'tank/a\\tzrepl:placeholder\\t-\\t-\\n'";
    var missing = "echo \"cannot open 'tank/a/b': dataset does not exist\" >&2";
    var z =
        zfs(
            script(
                "zfs", rows + "; " + missing + "; " + missing.replace("a/b", "a/b/c") + "; exit 1"),
            ZfsCapabilities.openZfs("zfs-mock"));
    var names = List.of("tank/a", "tank/a/b", "tank/a/b/c");
    var props = List.of(Zfs.PLACEHOLDER_PROPERTY);
    assertThat(z.getPropertiesOfExisting(names, props)).containsOnlyKeys("tank/a");
    // the plain form treats the same as a failure
    assertThatThrownBy(() -> z.getProperties(names, props)).isInstanceOf(ZfsException.class);
    // any other error is one, next to missing datasets too
    var other =
        zfs(
            script("zfs", rows + "; " + missing + "; echo 'bad property list' >&2; exit 1"),
            ZfsCapabilities.openZfs("zfs-mock"));
    assertThatThrownBy(() -> other.getPropertiesOfExisting(names, props))
        .isInstanceOfSatisfying(
            ZfsException.class, e -> assertThat(e.stderr()).contains("bad property list"));
    var silent = zfs(script("zfs", rows + "; exit 1"), ZfsCapabilities.openZfs("zfs-mock"));
    assertThatThrownBy(() -> silent.getPropertiesOfExisting(names, props))
        .isInstanceOf(ZfsException.class);
  }

  @Test
  void onlyMissingDatasetsRecognisesLibzfsLinesAndNothingElse() {
    assertThat(RealZfs.onlyMissingDatasets("cannot open 'p/a b': dataset does not exist\n"))
        .isTrue();
    assertThat(
            RealZfs.onlyMissingDatasets(
                "cannot open 'p/a b#c d': no such pool or dataset\n"
                    + "cannot open 'p/x@y': dataset does not exist\n"))
        .isTrue();
    assertThat(RealZfs.onlyMissingDatasets("cannot open 'p/a': no such pool or dataset"))
        .as("only a bookmark's absence is said this way")
        .isFalse();
    assertThat(RealZfs.onlyMissingDatasets("")).isFalse();
    assertThat(RealZfs.onlyMissingDatasets("cannot open 'p/a': permission denied")).isFalse();
    assertThat(
            RealZfs.onlyMissingDatasets(
                "[... 900 bytes cut ...]\ncannot open 'p/a': dataset does not exist"))
        .isFalse();
  }

  @Test
  void nonZeroExitWinsOverGarbledOutput() throws IOException {
    var bin =
        script(
            "zfs",
            "printf 'garbage\\tline\\n'; echo 'cannot open: dataset does not exist' >&2; exit 1");
    var z = zfs(bin, ZfsCapabilities.openZfs("zfs-mock"));
    assertThatThrownBy(() -> z.listVersions(List.of(DatasetPath.parse("tank/a"))))
        .isInstanceOf(ZfsException.class)
        .isNotInstanceOf(ZfsParseException.class)
        .hasMessageContaining("dataset does not exist");
  }

  @Test
  void garbledOutputWithExitZeroIsAParseErrorNamingTheCommand() throws IOException {
    var bin = script("zfs", "printf 'tank/a@s\\t1\\t2\\n'");
    var z = zfs(bin, ZfsCapabilities.openZfs("zfs-mock"));
    assertThatThrownBy(() -> z.listVersions(List.of(DatasetPath.parse("tank/a"))))
        .isInstanceOf(ZfsParseException.class)
        .hasMessageContaining("line 1")
        .hasMessageContaining("list");
  }

  @Test
  void stderrIsBoundedToItsTail() throws IOException {
    var bin =
        script(
            "zfs",
            "i=0; while [ $i -lt 3000 ]; do echo \"line $i of a chatty zfs padding padding padding\" >&2; i=$((i+1)); done; echo LAST >&2; exit 2");
    var z = zfs(bin, ZfsCapabilities.openZfs("zfs-mock"));
    assertThatThrownBy(() -> z.setProperty("tank", "zrepl:x", "1"))
        .isInstanceOfSatisfying(
            ZfsException.class,
            e -> {
              assertThat(e.stderr()).endsWith("LAST\n").startsWith("[... ");
              assertThat(e.stderr().length()).isLessThan(ZfsProcess.STDERR_TAIL_BYTES + 100);
            });
  }

  @Test
  void missingBinaryIsAZfsException() {
    var z = zfs(List.of(dir.resolve("nonexistent").toString()), ZfsCapabilities.openZfs("x"));
    assertThatThrownBy(() -> z.listFilesystems(List.of(), p -> true))
        .isInstanceOf(ZfsException.class)
        .hasMessageContaining("cannot start");
  }

  @Test
  void sendThatFailsMidwayThrowsFromReadWithItsStderr() throws IOException {
    var bin =
        script(
            "zfs", "head -c 100000 /dev/zero; echo 'warning: cannot send: I/O error' >&2; exit 1");
    var z = zfs(bin, ZfsCapabilities.openZfs("zfs-mock"));
    try (var s = z.send(SendRequest.full(FilesystemVersion.parseFullName("tank/a@s1")))) {
      assertThatThrownBy(() -> s.transferTo(java.io.OutputStream.nullOutputStream()))
          .isInstanceOfSatisfying(
              ZfsException.class,
              e -> {
                assertThat(e.exitStatus()).isEqualTo(1);
                assertThat(e.stderr()).contains("cannot send: I/O error");
              });
      // and it stays failed: no later silent EOF
      assertThatThrownBy(s::read).isInstanceOf(ZfsException.class);
    }
  }

  @Test
  void sendKilledMidwayIsReportedAsKilled() throws IOException {
    var bin = script("zfs", "head -c 10000 /dev/zero; echo 'about to die' >&2; kill -9 $$");
    var z = zfs(bin, ZfsCapabilities.openZfs("zfs-mock"));
    try (var s = z.send(SendRequest.full(FilesystemVersion.parseFullName("tank/a@s1")))) {
      assertThatThrownBy(() -> s.readAllBytes())
          .isInstanceOfSatisfying(
              ZfsException.class,
              e -> {
                assertThat(e.exitStatus()).isEqualTo(137);
                assertThat(e.getMessage()).contains("killed by signal 9");
                assertThat(e.stderr()).contains("about to die");
              });
    }
  }

  @Test
  void closingASendEarlyKillsTheProcessAndItsChildren() throws Exception {
    var bin =
        script(
            "zfs",
            "sleep 600 & echo $! > "
                + dir.resolve("child.pid")
                + "\nwhile true; do head -c 65536 /dev/zero; done");
    var z = zfs(bin, ZfsCapabilities.openZfs("zfs-mock"));
    long pid;
    var s = z.send(SendRequest.full(FilesystemVersion.parseFullName("tank/a@s1")));
    assertThat(s.read(new byte[1000])).isPositive();
    pid = Long.parseLong(Files.readString(dir.resolve("child.pid")).strip());
    var child = ProcessHandle.of(pid);
    assertThat(child).isPresent();
    s.close();
    s.close(); // idempotent
    // the sleep child was killed too
    for (int i = 0; i < 50 && running(pid); i++) {
      Thread.sleep(20);
    }
    assertThat(running(pid)).isFalse();
    // no zombie children of ours remain
    assertThat(ProcessHandle.current().children().filter(ProcessHandle::isAlive).count()).isZero();
  }

  /** Alive and not a zombie (a killed orphan may wait for PID 1 to reap it). */
  private static boolean running(long pid) throws IOException {
    var stat = Path.of("/proc/" + pid + "/stat");
    if (!Files.exists(stat)) {
      return false;
    }
    var s = Files.readString(stat);
    return !s.substring(s.lastIndexOf(')') + 2).startsWith("Z");
  }

  @Test
  void successfulSendEndsWithEof() throws IOException {
    var bin = script("zfs", "printf 'stream-bytes'");
    var z = zfs(bin, ZfsCapabilities.openZfs("zfs-mock"));
    try (var s =
        z.send(
            SendRequest.incremental(
                FilesystemVersion.parseFullName("tank/a#b1"),
                FilesystemVersion.parseFullName("tank/a@s2")))) {
      assertThat(new String(s.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8))
          .isEqualTo("stream-bytes");
      assertThat(s.read()).isEqualTo(-1);
      assertThat(s.argv()).containsSequence("send", "-i", "tank/a#b1", "tank/a@s2");
    }
  }

  @Test
  void receiveFailureCarriesItsStderrAndSourceFailureKillsTheReceive() throws IOException {
    var failing =
        script("zfs", "head -c 10 >/dev/null; echo 'cannot receive: invalid stream' >&2; exit 1");
    var z = zfs(failing, ZfsCapabilities.openZfs("zfs-mock"));
    var big = new ByteArrayInputStream(new byte[10_000_000]);
    assertThatThrownBy(() -> z.receive(DatasetPath.parse("tank/b"), big, ReceiveOptions.DEFAULTS))
        .isInstanceOf(ZfsException.class)
        .hasMessageContaining("invalid stream");

    var consuming = script("zfs2", "cat >/dev/null");
    var z2 = zfs(consuming, ZfsCapabilities.openZfs("zfs-mock"));
    InputStream broken =
        new InputStream() {
          int n;

          @Override
          public int read() throws IOException {
            if (n++ > 1000) {
              throw new IOException("source broke");
            }
            return 0;
          }
        };
    assertThatThrownBy(
            () -> z2.receive(DatasetPath.parse("tank/b"), broken, ReceiveOptions.DEFAULTS))
        .hasMessage("source broke");
  }

  @Test
  void legacyDialectRefusesMissingFeaturesByName() {
    var z = zfs(List.of("true"), ZfsCapabilities.legacy("zfs-fuse"));
    var snap = FilesystemVersion.parseFullName("tank/a@s1");
    assertThatThrownBy(() -> z.bookmark(snap, "b"))
        .isInstanceOfSatisfying(
            MissingFeatureException.class,
            e -> assertThat(e.feature()).isEqualTo(ZfsFeature.BOOKMARKS))
        .hasMessageContaining("bookmarks");
    assertThatThrownBy(() -> z.send(SendRequest.full(snap).with(SendRequest.SendFlag.RAW)))
        .isInstanceOf(MissingFeatureException.class)
        .hasMessageContaining("-w");
    assertThatThrownBy(() -> z.listHolds(List.of(snap)))
        .isInstanceOf(MissingFeatureException.class);
    assertThatThrownBy(
            () ->
                z.receive(
                    DatasetPath.parse("tank/b"),
                    InputStream.nullInputStream(),
                    ReceiveOptions.DEFAULTS.withResumable(true)))
        .isInstanceOf(MissingFeatureException.class);
    assertThat(z.invocations()).isZero();
  }

  @Test
  void listsVersionsOfManyFilesystemsInAFewInvocationsSideBySide() throws IOException {
    var out = dir.resolve("out.txt");
    var sb = new StringBuilder();
    var fss = new java.util.ArrayList<DatasetPath>();
    for (int i = 0; i < 1000; i++) {
      fss.add(DatasetPath.parse("tank/fs" + i));
      for (int j = 0; j < 10; j++) {
        sb.append("tank/fs")
            .append(i)
            .append("@s")
            .append(j)
            .append('\t')
            .append(i * 100 + j)
            .append('\t')
            .append(j + 1)
            .append("\t1700000000\t0\n");
      }
    }
    Files.writeString(out, sb);
    // like zfs: the versions of the filesystems named in the arguments, no others
    var z =
        zfs(
            script(
                "zfs",
                "awk -v args=\"$*\" 'BEGIN { n = split(args, a, \" \"); for (i = 1; i <= n; i++)"
                    + " want[a[i]] = 1 } { split($1, p, \"@\"); if (p[1] in want) print }' "
                    + out),
            ZfsCapabilities.openZfs("zfs-mock"));
    var m = z.listVersions(fss);
    // a few commands side by side, however many filesystems
    assertThat(z.invocations()).isEqualTo(SideBySide.PARALLEL);
    assertThat(m).hasSize(1000);
    assertThat(m.keySet()).containsExactlyElementsOf(fss);
    assertThat(m.values()).allSatisfy(l -> assertThat(l).hasSize(10));
    assertThat(m.get(fss.get(999)).getFirst().guid()).isEqualTo(99_900);
  }

  @Test
  void placeholderHashMatchesTheSeed() {
    assertThat(Zfs.placeholderHash(DatasetPath.parse("tank/foo")))
        .isEqualTo("29f44728711ec79feda8db841338832ca7977e3ec9f7d001ea80f273d0e39725");
  }

  @Test
  void placeholdersAreLocalOnOrTheHashOfTheirOwnPathAsInZrepl() {
    var p = DatasetPath.parse("tank/foo");
    // zrepl 0.1+ creates `zfs create -o zrepl:placeholder=on`; the seed and zrepl4j the hash
    assertThat(Zfs.isPlaceholder(p, new Property("on", "local"))).isTrue();
    assertThat(Zfs.isPlaceholder(p, new Property(Zfs.placeholderHash(p), "local"))).isTrue();
    // a child of a placeholder inherits the marker: it is real data
    assertThat(Zfs.isPlaceholder(p, new Property("on", "inherited from tank"))).isFalse();
    assertThat(
            Zfs.isPlaceholder(
                p,
                new Property(
                    Zfs.placeholderHash(DatasetPath.parse("tank")), "inherited from tank")))
        .isFalse();
    // zrepl's mark of a replaced placeholder, the hash of another path, unset
    assertThat(Zfs.isPlaceholder(p, new Property("off", "local"))).isFalse();
    assertThat(
            Zfs.isPlaceholder(
                p, new Property(Zfs.placeholderHash(DatasetPath.parse("tank")), "local")))
        .isFalse();
    assertThat(Zfs.isPlaceholder(p, new Property("-", "-"))).isFalse();
  }

  /** A zfs that hangs (a hung pool): the command's deadline kills it, with it its children. */
  @Test
  void aCommandPastItsDeadlineIsKilledAndFailsSayingSo() throws Exception {
    var timedOut = new java.util.concurrent.CopyOnWriteArrayList<String>();
    var listener = onTimeout((verb, deadline) -> timedOut.add(verb + " " + deadline));
    // a child that is not exec'd: the kill must reach it too
    var z =
        zfs(script("zfs", "sleep 3597\nexit 0"), ZfsCapabilities.openZfs("zfs-mock"))
            .observedBy(listener)
            .withCommandTimeout(java.time.Duration.ofMillis(500));
    assertThatThrownBy(() -> z.listFilesystems(List.of(), p -> true))
        .isInstanceOfSatisfying(
            ZfsException.class,
            e -> {
              assertThat(e.getMessage())
                  .contains("did not finish within PT0.5S and was killed")
                  .contains("global.zrepl4j_zfs_command_timeout");
              assertThat(e.exitStatus()).isEqualTo(ZfsException.NO_STATUS);
              assertThat(e.argv()).contains("list");
            });
    assertThat(timedOut).containsExactly("list PT0.5S");
    awaitNoDescendant("sleep 3597");

    // killed while what it printed would pass (stderr a tolerated failure): still a failure
    var partial =
        zfs(
                script(
                    "zfs",
                    "printf 'tank/a\\tzrepl:placeholder\\t-\\t-\\n'\n"
                        + "echo \"cannot open 'tank/b': dataset does not exist\" >&2\n"
                        + "sleep 3598\nexit 1"),
                ZfsCapabilities.openZfs("zfs-mock"))
            .withCommandTimeout(java.time.Duration.ofMillis(500));
    assertThatThrownBy(
            () ->
                partial.getPropertiesOfExisting(
                    List.of("tank/a", "tank/b"), List.of(Zfs.PLACEHOLDER_PROPERTY)))
        .isInstanceOf(ZfsException.class)
        .hasMessageContaining("did not finish within PT0.5S");
    awaitNoDescendant("sleep 3598");

    // a command that finishes in time is not touched by its deadline
    var quick =
        zfs(script("zfs", "exit 0"), ZfsCapabilities.openZfs("zfs-mock"))
            .withCommandTimeout(java.time.Duration.ofSeconds(30));
    assertThat(quick.listFilesystems(List.of(), p -> true)).isEmpty();
  }

  /** A zfs send or receive that stalls (gives or takes no byte) past the limit is killed. */
  @Test
  void aStreamThatMakesNoProgressPastTheLimitIsKilledAndFailsSayingSo() throws Exception {
    var limit = java.time.Duration.ofMillis(500);
    var timedOut = new java.util.concurrent.CopyOnWriteArrayList<String>();
    var listener = onTimeout((verb, deadline) -> timedOut.add(verb));
    // a receive that never reads: the writes into its pipe block
    var deaf =
        zfs(script("zfs", "sleep 3594\nexit 0"), ZfsCapabilities.openZfs("zfs-mock"))
            .observedBy(listener)
            .withCommandTimeout(limit);
    var big = new ByteArrayInputStream(new byte[8 << 20]);
    assertThatThrownBy(
            () -> deaf.receive(DatasetPath.parse("tank/b"), big, ReceiveOptions.DEFAULTS))
        .isInstanceOf(ZfsException.class)
        .hasMessageContaining("took no bytes for PT0.5S and was killed");
    awaitNoDescendant("sleep 3594");

    // a send that stops producing after three bytes
    var mute =
        zfs(script("zfs", "printf abc\nsleep 3593\nexit 0"), ZfsCapabilities.openZfs("zfs-mock"))
            .observedBy(listener)
            .withCommandTimeout(limit);
    try (var s = mute.send(SendRequest.full(FilesystemVersion.parseFullName("tank/a@s1")))) {
      var buf = new byte[16];
      int got = 0;
      while (got < 3) {
        got += s.read(buf, got, buf.length - got);
      }
      assertThatThrownBy(() -> s.read(buf, 0, buf.length))
          .isInstanceOf(ZfsException.class)
          .hasMessageContaining("produced no bytes for PT0.5S and was killed");
    }
    awaitNoDescendant("sleep 3593");
    assertThat(timedOut).containsExactly("receive", "send");

    // a slow reader is not a stalled send: only time blocked in the pipe counts
    var quick =
        zfs(script("zfs", "printf abc\nexit 0"), ZfsCapabilities.openZfs("zfs-mock"))
            .withCommandTimeout(limit);
    try (var s = quick.send(SendRequest.full(FilesystemVersion.parseFullName("tank/a@s1")))) {
      Thread.sleep(1500); // the consumer is busy elsewhere, three times the limit
      assertThat(new String(s.readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII))
          .isEqualTo("abc");
    }
  }

  @Test
  void aDeadlineMustBePositive() {
    var z = zfs(List.of("true"), ZfsCapabilities.openZfs("zfs-mock"));
    assertThatThrownBy(() -> z.withCommandTimeout(java.time.Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /** A listener that tells {@code sink} of each command killed at its limit. */
  private static CommandListener onTimeout(
      java.util.function.BiConsumer<String, java.time.Duration> sink) {
    return new CommandListener() {
      @Override
      public void exited(String binary, String verb, java.time.Duration runtime) {}

      @Override
      public void timedOut(String binary, String verb, java.time.Duration deadline) {
        sink.accept(verb, deadline);
      }
    };
  }

  private static void awaitNoDescendant(String commandLine) throws InterruptedException {
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
    while (ProcessHandle.current()
        .descendants()
        .anyMatch(h -> h.info().commandLine().orElse("").contains(commandLine))) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("'" + commandLine + "' still runs after its command was killed");
      }
      Thread.sleep(50);
    }
  }
}
