package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.zfs.FilesystemVersion.FullName;
import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import dev.zrepl4j.zfs.SendRequest.SendFlag;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The behaviours that zrepl's own platform tests ({@code internal/platformtest/tests}) check
 * against real pools, re-stated for our {@link Zfs} API on zfs-fuse. Where zfs-fuse lacks the
 * feature (bookmarks, resume tokens, encryption, {@code zfs holds}) the test asserts our documented
 * degradation; {@link GuestPlatformIT} tests the behaviour itself on OpenZFS 2.3. The mapping from
 * zrepl's cases to these methods is docs/PLATFORM-TESTS.md. Names with spaces throughout, as
 * zrepl's cases use them.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class FusePlatformIT {
  private static FusePools pool;
  private static RealZfs zfs;

  @BeforeAll
  static void createPool() throws IOException {
    pool = FusePools.create("plat", "256M");
    zfs = pool.zfs;
  }

  @AfterAll
  static void destroyPool() throws IOException {
    if (pool != null) {
      pool.close();
    }
  }

  private static FullName snap(DatasetPath fs, String name) {
    return new FullName(fs, VersionType.SNAPSHOT, name);
  }

  private static DatasetPath filesystem(String relative) throws IOException {
    var fs = pool.path(relative);
    zfs.create(fs, Map.of());
    return fs;
  }

  private static DatasetPath filesystemWithData(String relative, int megabytes, long seed)
      throws IOException {
    var fs = filesystem(relative);
    var data = new byte[megabytes << 20];
    new Random(seed).nextBytes(data);
    Files.write(pool.mounted(relative).resolve("data"), data);
    return fs;
  }

  private static List<FilesystemVersion> versions(DatasetPath fs) throws IOException {
    return zfs.listVersions(List.of(fs)).get(fs);
  }

  private static List<String> relativeNames(DatasetPath fs) throws IOException {
    return versions(fs).stream().map(FilesystemVersion::relativeName).toList();
  }

  private static long userRefs(DatasetPath fs, String relativeName) throws IOException {
    return versions(fs).stream()
        .filter(v -> v.relativeName().equals(relativeName))
        .findFirst()
        .orElseThrow(() -> new AssertionError(fs + relativeName + " not listed"))
        .userRefs();
  }

  // ---------------------------------------------------------------- listFilesystemVersions.go

  /** zrepl: ListFilesystemVersionsTypeFilteringAndPrefix (snapshots only: no bookmarks here). */
  @Test
  void listsTheSnapshotsOfOneFilesystemWithSpacesInCreationOrderButNotThoseOfItsChild()
      throws IOException {
    var fs = filesystem("lv foo bar");
    var child = filesystem("lv foo bar/child dataset");
    for (var name : List.of("foo 1", "foo 2", "blup 1", " foo with leading whitespace")) {
      zfs.snapshot(List.of(fs, child), name);
    }

    assertThat(relativeNames(fs))
        .containsExactly("@foo 1", "@foo 2", "@blup 1", "@ foo with leading whitespace");
    assertThat(versions(fs)).allSatisfy(v -> assertThat(v.filesystem()).isEqualTo(fs));
    assertThat(versions(fs))
        .extracting(FilesystemVersion::createTxg)
        .isSortedAccordingTo(Long::compareUnsigned);
    var both = zfs.listVersions(List.of(fs, child));
    assertThat(both.get(child))
        .extracting(FilesystemVersion::fullName)
        .containsExactly(
            child + "@foo 1",
            child + "@foo 2",
            child + "@blup 1",
            child + "@ foo with leading whitespace");
  }

  /**
   * zrepl: ListFilesystemVersionsZeroExistIsNotAnError, ListFilesystemVersionsFilesystemNotExist.
   */
  @Test
  void aFilesystemWithoutSnapshotsListsEmptyAndAMissingOneIsAnErrorNamingIt() throws IOException {
    var empty = filesystem("lv empty");
    var missing = pool.path("lv not existent");

    assertThat(zfs.listVersions(List.of(empty))).containsExactlyEntriesOf(Map.of(empty, List.of()));
    assertThatThrownBy(() -> zfs.listVersions(List.of(missing)))
        .isInstanceOf(ZfsException.class)
        .isNotInstanceOf(ZfsParseException.class)
        .satisfies(
            e ->
                assertThat(((ZfsException) e).stderr())
                    .contains("'" + missing + "': dataset does not exist"));
    assertThat(zfs.listVersionsOfExisting(List.of(empty, missing)))
        .containsOnlyKeys(empty, missing)
        .allSatisfy((k, v) -> assertThat(v).isEmpty());
  }

  /** zrepl: ListFilesystemVersionsUserrefs, HoldsWork (zfs holds is broken on zfs-fuse). */
  @Test
  void userrefsCountTheHoldsOfEachSnapshotAndListingHoldTagsIsAMissingFeature() throws IOException {
    var fs = filesystem("userrefs foo bar");
    var child = filesystem("userrefs foo bar/child datset");
    for (var n : List.of("snap 1", "snap 2", "snap 3", "snap 4")) {
      zfs.snapshot(List.of(fs, child), n);
    }
    zfs.hold("zrepl_platformtest", List.of(snap(fs, "snap 2"), snap(fs, "snap 3")));
    zfs.hold("tag 2", List.of(snap(fs, "snap 3"), snap(child, "snap 3")));

    assertThat(versions(fs))
        .extracting(FilesystemVersion::relativeName, FilesystemVersion::userRefs)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("@snap 1", 0L),
            org.assertj.core.groups.Tuple.tuple("@snap 2", 1L),
            org.assertj.core.groups.Tuple.tuple("@snap 3", 2L),
            org.assertj.core.groups.Tuple.tuple("@snap 4", 0L));
    assertThat(versions(fs))
        .allSatisfy(v -> assertThat(v.userRefsIfKnown()).hasValue(v.userRefs()));
    assertThat(userRefs(child, "@snap 3")).isEqualTo(1);

    long before = zfs.invocations();
    assertThatThrownBy(() -> zfs.listHolds(List.of(snap(fs, "snap 3"))))
        .isInstanceOfSatisfying(
            MissingFeatureException.class,
            e -> assertThat(e.feature()).isEqualTo(ZfsFeature.HOLDS_LISTING))
        .hasMessageContaining("FilesystemVersion.userRefs");
    assertThat(zfs.invocations()).as("refused without running zfs").isEqualTo(before);
  }

  // ---------------------------------------------------------------------- getNonexistent.go

  /** zrepl: GetNonexistent (bookmarks: zfs-fuse has none, see the guest variant). */
  @Test
  void propertiesOfAMissingFilesystemOrSnapshotAreAnErrorNamingItOrLeftOut() throws IOException {
    var fs = filesystem("get foo bar");
    zfs.snapshot(List.of(fs), "1");
    var missingFs = pool.path("get nonexistent filesystem").toString();
    var missingSnap = fs + "@non existent";

    assertThat(zfs.getProperties(List.of(fs.toString()), List.of("name")))
        .containsOnlyKeys(fs.toString());
    for (var missing : List.of(missingFs, missingSnap)) {
      assertThatThrownBy(() -> zfs.getProperties(List.of(missing), List.of("name")))
          .isInstanceOfSatisfying(
              ZfsException.class,
              e ->
                  assertThat(e.stderr())
                      .isEqualToIgnoringNewLines(
                          "cannot open '" + missing + "': dataset does not exist"));
    }
    assertThat(
            zfs.getPropertiesOfExisting(
                List.of(missingFs, fs + "@1", missingSnap), List.of("name", "guid")))
        .containsOnlyKeys(fs + "@1");
  }

  // --------------------------------------------------- idempotentHold.go, batchRelease (WIP)

  /**
   * zrepl: IdempotentHold, and the rollup release of its 2020 WIP branch (batchRelease.go). Our
   * {@code Zfs.hold}/{@code release} are plain commands; the replication layer's {@code Holds}
   * makes them idempotent by tolerating exactly these stderr lines, relying on ZFS going on with
   * the other snapshots of the command: both are checked here.
   */
  @Test
  void aRepeatedHoldOrAnAbsentReleaseFailsSayingSoWhileTheOtherSnapshotsAreStillDone()
      throws IOException {
    var fs = filesystem("hold foo bar");
    for (var n : List.of("1", "2", "3")) {
      zfs.snapshot(List.of(fs), n);
    }
    var s1 = snap(fs, "1");
    var s2 = snap(fs, "2");
    var s3 = snap(fs, "3");
    zfs.hold("zrepl_platformtest", List.of(s2));

    assertThatThrownBy(() -> zfs.hold("zrepl_platformtest", List.of(s1, s2, s3)))
        .isInstanceOfSatisfying(
            ZfsException.class,
            e ->
                assertThat(e.stderr().strip())
                    .isEqualTo("cannot hold '" + s2 + "': tag already exists on this dataset"));
    assertThat(versions(fs)).extracting(FilesystemVersion::userRefs).containsExactly(1L, 1L, 1L);

    // listHolds.go (2019): a hold on a snapshot that does not exist is an error
    assertThatThrownBy(() -> zfs.hold("zrepl_platformtest", List.of(snap(fs, "nonexistent"))))
        .isInstanceOfSatisfying(
            ZfsException.class,
            e -> assertThat(e.stderr()).contains("@nonexistent").contains("does not exist"));

    zfs.release("zrepl_platformtest", List.of(s2));
    assertThatThrownBy(() -> zfs.release("zrepl_platformtest", List.of(s1, s2, s3)))
        .isInstanceOfSatisfying(
            ZfsException.class,
            e ->
                assertThat(e.stderr().strip())
                    .isEqualTo(
                        "cannot release 'zrepl_platformtest' from '"
                            + s2
                            + "': no such tag on this dataset"));
    assertThat(versions(fs)).extracting(FilesystemVersion::userRefs).containsExactly(0L, 0L, 0L);
  }

  // -------------------------------------------------------------------- idempotentDestroy.go

  /** zrepl: IdempotentDestroy (our destroy is not idempotent: a second one says what is gone). */
  @Test
  void destroyingASnapshotOrFilesystemThatIsGoneFailsSayingItDoesNotExist() throws IOException {
    // not mounted: zfs-fuse may refuse to unmount a just-used filesystem as busy for a moment
    var fs = pool.path("destroy foo bar");
    zfs.create(fs, Map.of("mountpoint", "none"));
    zfs.snapshot(List.of(fs), "a snap");
    var snapshot = snap(fs, "a snap");

    zfs.destroyVersions(List.of(snapshot));
    assertThatThrownBy(() -> zfs.destroyVersions(List.of(snapshot)))
        .isInstanceOfSatisfying(
            ZfsException.class,
            e ->
                assertThat(e.stderr().strip())
                    .isEqualTo("cannot open '" + snapshot + "': dataset does not exist"));
    assertThatThrownBy(
            () ->
                zfs.destroyVersions(List.of(new FullName(fs, VersionType.BOOKMARK, "a bookmark"))))
        .isInstanceOf(MissingFeatureException.class);

    zfs.destroyFilesystem(fs, false);
    assertThatThrownBy(() -> zfs.destroyFilesystem(fs, false))
        .isInstanceOfSatisfying(
            ZfsException.class,
            e ->
                assertThat(e.stderr().strip())
                    .isEqualTo("cannot open '" + fs + "': dataset does not exist"));
    assertThat(zfs.listFilesystemsBelow(List.of(fs), p -> true)).isEmpty();
  }

  // ---------------------------------------------- batchDestroy.go, undestroyableSnapshotParsing.go

  /**
   * zrepl: BatchDestroy, UndestroyableSnapshotParsing. zfs-fuse has no comma destroy: one command
   * per snapshot in the order given; the held one fails naming itself and why, those before it are
   * gone and those after it are not tried (the pruner lists again and goes on one by one).
   */
  @Test
  void aHeldSnapshotInADestroyBatchIsNamedAsBusyAndStaysWithItsHold() throws IOException {
    var fs = filesystem("batch foo bar");
    for (var n : List.of("1 2 3", "4 5 6", "7 8 9")) {
      zfs.snapshot(List.of(fs), n);
    }
    zfs.hold("zrepl_platformtest", List.of(snap(fs, "4 5 6")));

    assertThatThrownBy(
            () ->
                zfs.destroyVersions(
                    List.of(snap(fs, "7 8 9"), snap(fs, "4 5 6"), snap(fs, "1 2 3"))))
        .isInstanceOfSatisfying(
            ZfsException.class,
            e ->
                assertThat(e.stderr().strip())
                    .isEqualTo("cannot destroy '" + fs + "@4 5 6': dataset is busy"));
    assertThat(relativeNames(fs)).containsExactly("@1 2 3", "@4 5 6");
    assertThat(userRefs(fs, "@4 5 6")).isEqualTo(1);

    zfs.release("zrepl_platformtest", List.of(snap(fs, "4 5 6")));
    zfs.destroyVersions(List.of(snap(fs, "4 5 6"), snap(fs, "1 2 3")));
    assertThat(versions(fs)).isEmpty();
  }

  // ------------------------------------------------------------------------- recvRollback.go

  /**
   * zrepl: ReceiveForceRollbackWorksUnencrypted. zrepl's receive with "rollback and force" destroys
   * every snapshot of the target before {@code zfs receive -F}; zrepl4j never destroys on a
   * receiver on its own (DESIGN), its {@code force} is plain {@code -F} (used only to replace a
   * placeholder). So: {@code -F} replaces a filesystem without snapshots, and over one with
   * snapshots ZFS refuses and nothing changes.
   */
  @Test
  void aForcedFullReceiveReplacesAFilesystemWithoutSnapshotsAndIsRefusedOverOneWithSnapshots()
      throws IOException {
    var sender = filesystemWithData("force sender", 1, 7);
    zfs.snapshot(List.of(sender), "1");
    // unmounted, as the placeholders that zrepl4j replaces with -F are (zfs-fuse fails a forced
    // receive over a mounted filesystem now and then with "I/O error")
    var bare = pool.path("force bare");
    zfs.create(bare, Map.of("mountpoint", "none"));
    var withSnapshots = filesystem("force foo bar");
    for (var n : List.of("a snap", "another snap", "snap3")) {
      zfs.snapshot(List.of(withSnapshots), n);
    }
    var before = versions(withSnapshots);

    try (var stream = zfs.send(SendRequest.full(snap(sender, "1")))) {
      assertThatThrownBy(
              () -> zfs.receive(withSnapshots, stream, ReceiveOptions.DEFAULTS.withForce(true)))
          .isInstanceOfSatisfying(
              ZfsException.class,
              e -> {
                assertThat(e.argv()).contains("-F");
                assertThat(e.stderr()).contains("must destroy them to overwrite it");
              });
    }
    assertThat(versions(withSnapshots)).isEqualTo(before);

    try (var stream = zfs.send(SendRequest.full(snap(sender, "1")))) {
      zfs.receive(bare, stream, ReceiveOptions.DEFAULTS.withForce(true));
    }
    assertThat(versions(bare))
        .extracting(FilesystemVersion::relativeName, FilesystemVersion::guid)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("@1", versions(sender).getFirst().guid()));
  }

  /** Without -F the same receive is refused and the target keeps its snapshots. */
  @Test
  void anUnforcedFullReceiveIntoAnExistingFilesystemIsRefusedAndChangesNothing()
      throws IOException {
    var target = filesystem("noforce target");
    zfs.snapshot(List.of(target), "mine");
    var sender = filesystem("noforce sender");
    zfs.snapshot(List.of(sender), "1");

    try (var stream = zfs.send(SendRequest.full(snap(sender, "1")))) {
      assertThatThrownBy(() -> zfs.receive(target, stream, ReceiveOptions.DEFAULTS))
          .isInstanceOfSatisfying(
              ZfsException.class, e -> assertThat(e.stderr()).contains("exists"));
    }
    assertThat(relativeNames(target)).containsExactly("@mine");
  }

  // ------------------------- resumableRecvAndTokenHandling.go, recvForceIntoEncryptedErr.go

  /**
   * zrepl: ResumableRecvAndTokenHandling, ReceiveForceIntoEncryptedErr, SendArgsValidation (the
   * feature checks): without resumable receive or encryption, asking for them is refused before any
   * {@code zfs} runs, and there is never a resume token.
   */
  @Test
  void resumableReceiveAndRawSendAreMissingFeaturesAndThereIsNoResumeToken() throws IOException {
    var fs = filesystem("resumable send er");
    zfs.snapshot(List.of(fs), "a snapshot");
    var target = pool.path("resumable recv er");

    long before = zfs.invocations();
    assertThatThrownBy(
            () ->
                zfs.receive(
                    target,
                    InputStream.nullInputStream(),
                    ReceiveOptions.DEFAULTS.withResumable(true)))
        .isInstanceOfSatisfying(
            MissingFeatureException.class,
            e -> assertThat(e.feature()).isEqualTo(ZfsFeature.RESUMABLE_SEND_RECEIVE));
    assertThatThrownBy(() -> zfs.send(SendRequest.resume("1-abc-10-789c")))
        .isInstanceOf(MissingFeatureException.class);
    assertThatThrownBy(() -> zfs.send(SendRequest.full(snap(fs, "a snapshot")).with(SendFlag.RAW)))
        .isInstanceOfSatisfying(
            MissingFeatureException.class,
            e -> assertThat(e.feature()).isEqualTo(SendFlag.RAW.feature()));
    assertThat(zfs.invocations()).as("refused without running zfs").isEqualTo(before);
    assertThat(zfs.receiveResumeToken(fs)).isEmpty();
    assertThat(zfs.listFilesystemsBelow(List.of(target), p -> true)).isEmpty();
  }

  // -------------------------------------------------------------------------- sendStream.go

  /** zrepl: SendStreamCloseAfterBlockedOnPipeWrite. */
  @Test
  void closingASendBlockedOnAFullPipeKillsItAndFreesTheSnapshot() throws Exception {
    var fs = filesystemWithData("stream blocked", 4, 11);
    zfs.snapshot(List.of(fs), "1");
    try (var stream = zfs.send(SendRequest.full(snap(fs, "1")))) {
      closeWhileBlocked(fs, stream);
    }
    // the daemon's side of the send ends too: the snapshot can be destroyed again
    awaitTrue(
        "the snapshot is no longer busy",
        () -> {
          try {
            zfs.destroyVersions(List.of(snap(fs, "1")));
            return true;
          } catch (ZfsException e) {
            assertThat(e.stderr()).contains("busy");
            return false;
          }
        },
        Duration.ofSeconds(30));
    assertThat(versions(fs)).isEmpty();
  }

  private static void closeWhileBlocked(DatasetPath fs, SendStream stream) throws Exception {
    var sender = zfsSendProcess(fs.toString());
    awaitPipeFull(stream);

    var start = Instant.now();
    stream.close(); // closed again by the caller: idempotent
    assertThat(Duration.between(start, Instant.now())).isLessThan(Duration.ofSeconds(5));
    assertThat(sender.isAlive()).isFalse();
    assertThat(sender.onExit().get(1, TimeUnit.SECONDS).pid()).isEqualTo(sender.pid());
    assertThatThrownBy(() -> stream.read(new byte[128]))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("closed");
  }

  /**
   * zrepl: SendStreamCloseAfterEOFRead, SendStreamMultipleCloseAfterEOF,
   * SendStreamMultipleCloseBeforeEOF. Close is idempotent (Closeable); a read after close is an
   * error, never a silent end of stream.
   */
  @Test
  void aSendStreamReadToItsEndThenClosedTwiceRefusesFurtherReads() throws IOException {
    var fs = filesystemWithData("stream eof", 1, 12);
    zfs.snapshot(List.of(fs), "1");

    var stream = zfs.send(SendRequest.full(snap(fs, "1")));
    assertThat(stream.transferTo(OutputStream.nullOutputStream())).isGreaterThan(1 << 20);
    assertThat(stream.read(new byte[128])).isEqualTo(-1);
    assertThat(stream.isOpen()).isTrue();
    stream.close();
    stream.close();
    assertThat(stream.isOpen()).isFalse();
    assertThatThrownBy(() -> stream.read(new byte[128]))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("closed")
        .hasMessageContaining(fs + "@1");

    var early = zfs.send(SendRequest.full(snap(fs, "1")));
    assertThat(early.readNBytes(128)).hasSize(128);
    early.close();
    early.close();
    assertThatThrownBy(() -> early.read(new byte[128]))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("closed");
  }

  /**
   * zrepl: SendStreamNonEOFReadErrorHandling, from the receiving side: when the stream a receive
   * reads fails midway, the receive is killed, the failure is what is thrown, and nothing partial
   * is left (no resumable receive on zfs-fuse).
   */
  @Test
  void aReceiveWhoseInputFailsMidwayIsKilledAndThrowsThatFailureLeavingNoTarget() throws Exception {
    var fs = filesystemWithData("stream failing", 2, 13);
    zfs.snapshot(List.of(fs), "1");
    var target = pool.path("stream failing target");
    var failure = new IOException("the peer went away (test)");

    try (var stream = zfs.send(SendRequest.full(snap(fs, "1")))) {
      var failing =
          new java.io.FilterInputStream(stream) {
            long n;

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
              if (n >= (512 << 10)) {
                throw failure;
              }
              int r = super.read(b, off, (int) Math.min(len, (512 << 10) - n));
              n += Math.max(r, 0);
              return r;
            }
          };
      assertThatThrownBy(() -> zfs.receive(target, failing, ReceiveOptions.DEFAULTS))
          .isSameAs(failure);
    }
    assertThat(zfsReceiveProcesses(target.toString())).isEmpty();
    // zfs-fuse removes the partial dataset asynchronously
    awaitTrue(
        "no partial " + target,
        () -> zfs.listFilesystemsBelow(List.of(target), p -> true).isEmpty(),
        Duration.ofSeconds(30));
  }

  // ---------------------------------------------------------------------------------- helpers

  /**
   * The running {@code zfs send} of {@code fs}. zfs-fuse's {@code zfs} overwrites the '@' of its
   * argument with a NUL, so its command line shows the filesystem and the snapshot name apart (and
   * the JDK's argument list is unreliable then: the command line string is matched).
   */
  private static ProcessHandle zfsSendProcess(String fs) {
    var found =
        ProcessHandle.current()
            .children()
            .filter(
                p ->
                    p.info()
                        .commandLine()
                        .map(c -> c.contains(" send ") && c.contains(fs))
                        .orElse(false))
            .toList();
    assertThat(found)
        .as(
            "zfs send of %s among %s",
            fs,
            ProcessHandle.current()
                .children()
                .map(p -> p.pid() + " " + p.info().commandLine().orElse("?"))
                .toList())
        .hasSize(1);
    return found.getFirst();
  }

  private static List<ProcessHandle> zfsReceiveProcesses(String target) {
    return ProcessHandle.current()
        .children()
        .filter(ProcessHandle::isAlive)
        .filter(
            p ->
                p.info()
                    .commandLine()
                    .map(c -> c.contains(" receive ") && c.contains(target))
                    .orElse(false))
        .toList();
  }

  /**
   * Waits until the send has filled its pipe and blocks writing: nothing is read here, the snapshot
   * is larger than any pipe, and the bytes waiting in the pipe stop growing (the same count over 20
   * polls 50 ms apart).
   */
  static void awaitPipeFull(SendStream stream) throws Exception {
    int[] last = {-1};
    int[] same = {0};
    awaitTrue(
        "the send pipe is full",
        () -> {
          int now = stream.available();
          same[0] = now > 0 && now == last[0] ? same[0] + 1 : 0;
          last[0] = now;
          return same[0] >= 20;
        },
        Duration.ofSeconds(30));
  }

  @FunctionalInterface
  interface Condition {
    boolean holds() throws Exception;
  }

  static void awaitTrue(String what, Condition condition, Duration timeout) throws Exception {
    var deadline = Instant.now().plus(timeout);
    while (!condition.holds()) {
      if (Instant.now().isAfter(deadline)) {
        throw new AssertionError("not within " + timeout + ": " + what);
      }
      Thread.sleep(50);
    }
  }
}
