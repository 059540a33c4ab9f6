package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.groups.Tuple.tuple;

import dev.zrepl4j.zfs.FilesystemVersion.FullName;
import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import dev.zrepl4j.zfs.SendRequest.SendFlag;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The behaviours that zrepl's own platform tests ({@code internal/platformtest/tests}) check
 * against real pools, re-stated for our {@link Zfs} API on OpenZFS 2.3 in the guest of {@code
 * scripts/zfs-guest.sh}: the features zfs-fuse lacks (bookmarks, {@code zfs holds}, resume tokens,
 * encryption, volumes, comma-batched destroy) are tested here, their degradation on zfs-fuse in
 * {@link FusePlatformIT}. The mapping from zrepl's cases to these methods is
 * docs/PLATFORM-TESTS.md. One pool; names with spaces, as zrepl's cases use them. Streams are at
 * most a few MiB (they cross an emulated machine at ~12 MB/s).
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class GuestPlatformIT {

  private static final String POOL = "gplat";
  private static final String KEY_FILE = "/root/" + POOL + ".key";

  private static GuestZfs guest;
  private static RealZfs zfs;

  @BeforeAll
  static void setUp() throws IOException {
    guest = GuestZfs.fromEnvironment();
    guest.createPool(POOL);
    guest.sh("head -c 32 /dev/urandom > " + KEY_FILE);
    zfs = RealZfs.start(guest.zfsArgv(), guest.zpoolArgv());
  }

  @AfterAll
  static void tearDown() {
    if (guest != null) {
      guest.destroyPoolIfExists(POOL);
      guest.exec("rm", "-f", KEY_FILE);
    }
  }

  private static DatasetPath path(String relative) {
    return DatasetPath.parse(POOL + "/" + relative);
  }

  private static DatasetPath filesystem(String relative) throws IOException {
    var fs = path(relative);
    zfs.create(fs, Map.of());
    return fs;
  }

  private static DatasetPath encryptedFilesystem(String relative) throws IOException {
    var fs = path(relative);
    zfs.create(
        fs,
        Map.of(
            "encryption", "aes-256-gcm",
            "keyformat", "raw",
            "keylocation", "file://" + KEY_FILE));
    return fs;
  }

  private static DatasetPath filesystemWithData(DatasetPath fs, int megabytes) {
    guest.writeRandom("/" + fs + "/data", megabytes);
    return fs;
  }

  private static FullName snap(DatasetPath fs, String name) {
    return new FullName(fs, VersionType.SNAPSHOT, name);
  }

  private static FullName bookmark(DatasetPath fs, String name) {
    return new FullName(fs, VersionType.BOOKMARK, name);
  }

  private static List<FilesystemVersion> versions(DatasetPath fs) throws IOException {
    return zfs.listVersions(List.of(fs)).get(fs);
  }

  private static FilesystemVersion version(DatasetPath fs, String relativeName) throws IOException {
    return versions(fs).stream()
        .filter(v -> v.relativeName().equals(relativeName))
        .findFirst()
        .orElseThrow(() -> new AssertionError(fs + relativeName + " not listed"));
  }

  private static List<String> relativeNames(DatasetPath fs) throws IOException {
    return versions(fs).stream().map(FilesystemVersion::relativeName).toList();
  }

  // ---------------------------------------------------------------- listFilesystemVersions.go

  /**
   * zrepl: ListFilesystemVersionsTypeFilteringAndPrefix. Our listing has no type or prefix option:
   * it returns snapshots and bookmarks in createtxg order and the callers filter, so the test is
   * that everything of this filesystem is there with its type and guid, and nothing of its child.
   */
  @Test
  void listsSnapshotsAndBookmarksWithSpacesOfOneFilesystemButNotThoseOfItsChild()
      throws IOException {
    var fs = filesystem("lv foo bar");
    var child = filesystem("lv foo bar/child dataset");
    var both = List.of(fs, child);
    zfs.snapshot(both, "foo 1");
    for (var d : both) {
      zfs.bookmark(snap(d, "foo 1"), "foo 1");
      zfs.bookmark(snap(d, "foo 1"), "bookfoo 1");
    }
    zfs.snapshot(both, "foo 2");
    for (var d : both) {
      zfs.bookmark(snap(d, "foo 2"), "foo 2");
    }
    zfs.snapshot(both, " foo with leading whitespace");

    var all = zfs.listVersions(both);
    var listed = all.get(fs);
    assertThat(listed)
        .extracting(FilesystemVersion::relativeName)
        .containsExactlyInAnyOrder(
            "@foo 1", "#foo 1", "#bookfoo 1", "@foo 2", "#foo 2", "@ foo with leading whitespace");
    assertThat(listed).allSatisfy(v -> assertThat(v.filesystem()).isEqualTo(fs));
    assertThat(listed)
        .extracting(FilesystemVersion::createTxg)
        .isSortedAccordingTo(Long::compareUnsigned);
    assertThat(listed.stream().filter(FilesystemVersion::isBookmark))
        .extracting(FilesystemVersion::name)
        .containsExactlyInAnyOrder("foo 1", "bookfoo 1", "foo 2");
    assertThat(version(fs, "#bookfoo 1").guid()).isEqualTo(version(fs, "@foo 1").guid());
    assertThat(version(fs, "#foo 2").guid()).isEqualTo(version(fs, "@foo 2").guid());
    assertThat(all.get(child))
        .hasSize(6)
        .allSatisfy(v -> assertThat(v.filesystem()).isEqualTo(child));
  }

  /**
   * zrepl: ListFilesystemVersionsZeroExistIsNotAnError, ListFilesystemVersionsFilesystemNotExist.
   */
  @Test
  void aFilesystemWithoutVersionsListsEmptyAndAMissingOneIsAnErrorNamingIt() throws IOException {
    var empty = filesystem("lv empty");
    var missing = path("lv not existent");

    assertThat(zfs.listVersions(List.of(empty))).containsExactlyEntriesOf(Map.of(empty, List.of()));
    assertThatThrownBy(() -> zfs.listVersions(List.of(missing)))
        .isInstanceOfSatisfying(
            ZfsException.class,
            e ->
                assertThat(e.stderr().strip())
                    .isEqualTo("cannot open '" + missing + "': dataset does not exist"));
    assertThat(zfs.listVersionsOfExisting(List.of(empty, missing)))
        .containsOnlyKeys(empty, missing)
        .allSatisfy((k, v) -> assertThat(v).isEmpty());
  }

  /** zrepl: ListFilesystemVersionsUserrefs, HoldsWork. */
  @Test
  void userrefsCountHoldsOfSnapshotsAreUnknownForBookmarksAndHoldTagsWithSpacesAreListed()
      throws IOException {
    var fs = filesystem("userrefs foo bar");
    for (var n : List.of("snap 1", "snap 2", "snap 3", "snap 4")) {
      zfs.snapshot(List.of(fs), n);
      zfs.bookmark(snap(fs, n), n);
    }
    zfs.hold("tag 1", List.of(snap(fs, "snap 2"), snap(fs, "snap 3")));
    zfs.hold("tag 2", List.of(snap(fs, "snap 3")));

    assertThat(versions(fs).stream().filter(FilesystemVersion::isSnapshot))
        .extracting(FilesystemVersion::relativeName, v -> v.userRefsIfKnown().orElseThrow())
        .containsExactly(
            tuple("@snap 1", 0L), tuple("@snap 2", 1L), tuple("@snap 3", 2L), tuple("@snap 4", 0L));
    assertThat(versions(fs).stream().filter(FilesystemVersion::isBookmark))
        .hasSize(4)
        .allSatisfy(v -> assertThat(v.userRefsIfKnown()).isEmpty());
    assertThat(zfs.listHolds(List.of(snap(fs, "snap 3"), snap(fs, "snap 1"))))
        .extracting(h -> h.snapshot().name(), Hold::tag)
        .containsExactlyInAnyOrder(tuple("snap 3", "tag 1"), tuple("snap 3", "tag 2"));
  }

  // ---------------------------------------------------------------------- getNonexistent.go

  /**
   * zrepl: GetNonexistent. A missing filesystem, snapshot or bookmark is an error naming it; the
   * "of existing" variant leaves each out. OpenZFS says {@code no such pool or dataset} for a
   * missing bookmark of an existing filesystem, not {@code dataset does not exist}.
   */
  @Test
  void propertiesOfAMissingFilesystemSnapshotOrBookmarkAreAnErrorNamingItOrLeftOut()
      throws IOException {
    var fs = filesystem("get foo bar");
    zfs.snapshot(List.of(fs), "1");
    zfs.bookmark(snap(fs, "1"), "1");
    var missingFs = path("get nonexistent filesystem").toString();
    var missingSnap = fs + "@non existent";
    var missingBookmark = fs + "#non existent";

    assertThat(zfs.getProperties(List.of(fs + "#1"), List.of("guid")).get(fs + "#1").get("guid"))
        .isEqualTo(new Property(version(fs, "@1").guidString(), "-"));
    for (var missing : List.of(missingFs, missingSnap, missingBookmark)) {
      assertThatThrownBy(() -> zfs.getProperties(List.of(missing), List.of("name")))
          .isInstanceOfSatisfying(
              ZfsException.class,
              e -> assertThat(e.stderr()).startsWith("cannot open '" + missing + "': "));
    }
    assertThat(
            zfs.getPropertiesOfExisting(
                List.of(missingFs, fs + "@1", missingSnap, fs + "#1", missingBookmark),
                List.of("name", "guid")))
        .containsOnlyKeys(fs + "@1", fs + "#1");
  }

  // ---------------------------------------------------------------- listFilesystems.go

  /** zrepl: ListFilesystemsNoFilter (volumes: zfs-fuse cannot create them). */
  @Test
  void listsFilesystemsAndVolumesWithSpacesBelowARoot() throws IOException {
    var root = filesystem("lf");
    guest.zfs("create", "-V", "10M", root + "/bar baz").ok();
    var fooBar = filesystem("lf/foo bar");
    filesystem("lf/foo bar/bar blup");
    filesystem("lf/foo bar/blah");
    guest.zfs("create", "-V", "10M", fooBar + "/blah/a volume").ok();

    assertThat(zfs.listFilesystems(List.of(root), p -> true))
        .extracting(p -> p.toString().substring(root.toString().length()))
        .containsExactlyInAnyOrder(
            "",
            "/bar baz",
            "/foo bar",
            "/foo bar/bar blup",
            "/foo bar/blah",
            "/foo bar/blah/a volume");
  }

  // --------------------------------------------------- idempotentHold.go, batchRelease (WIP)

  /**
   * zrepl: IdempotentHold, and the rollup release of its 2020 WIP branch (batchRelease.go). The
   * replication layer's {@code Holds} tolerates exactly these stderr lines and relies on ZFS going
   * on with the other snapshots of the command: both checked here.
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
                    .isEqualTo(
                        "cannot hold snapshot '" + s2 + "': tag already exists on this dataset"));
    assertThat(zfs.listHolds(List.of(s1, s2, s3)))
        .extracting(h -> h.snapshot().name(), Hold::tag)
        .containsExactlyInAnyOrder(
            tuple("1", "zrepl_platformtest"),
            tuple("2", "zrepl_platformtest"),
            tuple("3", "zrepl_platformtest"));

    // listHolds.go (2019): a hold on a snapshot that does not exist is an error
    assertThatThrownBy(() -> zfs.hold("zrepl_platformtest", List.of(snap(fs, "nonexistent"))))
        .isInstanceOfSatisfying(
            ZfsException.class, e -> assertThat(e.stderr()).contains("does not exist"));

    zfs.release("zrepl_platformtest", List.of(s2));
    assertThatThrownBy(() -> zfs.release("zrepl_platformtest", List.of(s1, s2, s3)))
        .isInstanceOfSatisfying(
            ZfsException.class,
            e ->
                assertThat(e.stderr().strip())
                    .isEqualTo(
                        "cannot release hold from snapshot '"
                            + s2
                            + "': no such tag on this dataset"));
    assertThat(zfs.listHolds(List.of(s1, s2, s3))).isEmpty();
  }

  // ------------------------------------------------------------------- idempotentBookmark.go

  /**
   * zrepl: IdempotentBookmark. Our {@code bookmark} is a plain command: a second one of the same
   * name fails saying {@code bookmark exists} (the replication layer tolerates that for cursor
   * names, which carry the snapshot's guid), also for another snapshot, and the bookmark keeps
   * pointing at the first; a bookmark of a destroyed snapshot fails saying it does not exist.
   */
  @Test
  void aSecondBookmarkOfTheSameNameFailsAndKeepsTheFirstAndAGoneSnapshotCannotBeBookmarked()
      throws IOException {
    var fs = filesystem("bm foo bar");
    zfs.snapshot(List.of(fs), "a snap");
    zfs.snapshot(List.of(fs), "another snap");
    var guid = version(fs, "@a snap").guid();

    zfs.bookmark(snap(fs, "a snap"), "a bookmark");
    for (var source : List.of("a snap", "another snap")) {
      assertThatThrownBy(() -> zfs.bookmark(snap(fs, source), "a bookmark"))
          .isInstanceOfSatisfying(
              ZfsException.class,
              e ->
                  assertThat(e.stderr().strip())
                      .isEqualTo(
                          "cannot create bookmark '" + fs + "#a bookmark': bookmark exists"));
    }
    assertThat(version(fs, "#a bookmark").guid()).isEqualTo(guid);

    zfs.destroyVersions(List.of(snap(fs, "a snap")));
    assertThatThrownBy(() -> zfs.bookmark(snap(fs, "a snap"), "a bookmark 2"))
        .isInstanceOfSatisfying(
            ZfsException.class, e -> assertThat(e.stderr()).contains("does not exist"));
    assertThat(relativeNames(fs)).containsExactly("#a bookmark", "@another snap");
  }

  // -------------------------------------------------------------------- idempotentDestroy.go

  /**
   * zrepl: IdempotentDestroy. Destroying a snapshot, bookmark or filesystem that is gone fails
   * saying so; in a comma batch a missing snapshot is skipped by OpenZFS and the others go.
   */
  @Test
  void destroyingWhatIsGoneFailsSayingSoButAMissingSnapshotInABatchIsSkipped() throws IOException {
    var fs = filesystem("destroy foo bar");
    zfs.snapshot(List.of(fs), "a snap");
    zfs.bookmark(snap(fs, "a snap"), "a bookmark");
    zfs.snapshot(List.of(fs), "b snap");

    zfs.destroyVersions(List.of(snap(fs, "a snap")));
    assertThatThrownBy(() -> zfs.destroyVersions(List.of(snap(fs, "a snap"))))
        .isInstanceOfSatisfying(
            ZfsException.class,
            e ->
                assertThat(e.stderr().strip())
                    .isEqualTo("could not find any snapshots to destroy; check snapshot names."));
    zfs.destroyVersions(List.of(bookmark(fs, "a bookmark")));
    assertThatThrownBy(() -> zfs.destroyVersions(List.of(bookmark(fs, "a bookmark"))))
        .isInstanceOfSatisfying(
            ZfsException.class,
            e ->
                assertThat(e.stderr().strip())
                    .isEqualTo("bookmark '" + fs + "#a bookmark' does not exist."));

    zfs.destroyVersions(List.of(snap(fs, "a snap"), snap(fs, "b snap")));
    assertThat(versions(fs)).isEmpty();

    zfs.destroyFilesystem(fs, false);
    assertThatThrownBy(() -> zfs.destroyFilesystem(fs, false))
        .isInstanceOfSatisfying(
            ZfsException.class,
            e ->
                assertThat(e.stderr().strip())
                    .isEqualTo("cannot open '" + fs + "': dataset does not exist"));
  }

  // ---------------------------------------------- batchDestroy.go, undestroyableSnapshotParsing.go

  /**
   * zrepl: BatchDestroy, UndestroyableSnapshotParsing. OpenZFS destroys a comma batch all or
   * nothing: with one snapshot held, none goes and stderr names the held one and why (the pruner
   * then goes on one by one).
   */
  @Test
  void aBatchDestroyWithAHeldSnapshotDestroysNoneAndNamesTheHeldOne() throws IOException {
    var fs = filesystem("batch foo bar");
    for (var n : List.of("1 2 3", "4 5 6", "7 8 9")) {
      zfs.snapshot(List.of(fs), n);
    }
    zfs.hold("zrepl_platformtest", List.of(snap(fs, "4 5 6")));

    long before = zfs.invocations();
    assertThatThrownBy(
            () ->
                zfs.destroyVersions(
                    List.of(snap(fs, "1 2 3"), snap(fs, "4 5 6"), snap(fs, "7 8 9"))))
        .isInstanceOfSatisfying(
            ZfsException.class,
            e ->
                assertThat(e.stderr().lines().toList())
                    .containsExactly(
                        "cannot destroy snapshot "
                            + fs
                            + "@4 5 6: it's being held. Run 'zfs holds -r "
                            + fs
                            + "@4 5 6' to see holders."));
    assertThat(zfs.invocations() - before).isEqualTo(1);
    assertThat(relativeNames(fs)).containsExactly("@1 2 3", "@4 5 6", "@7 8 9");

    zfs.destroyVersions(List.of(snap(fs, "1 2 3"), snap(fs, "7 8 9")));
    assertThat(relativeNames(fs)).containsExactly("@4 5 6");
    zfs.release("zrepl_platformtest", List.of(snap(fs, "4 5 6")));
  }

  // ------------------------------------------- recvRollback.go, recvForceIntoEncryptedErr.go

  /**
   * zrepl: ReceiveForceRollbackWorksUnencrypted. zrepl's receive with "rollback and force" destroys
   * every snapshot of the target before {@code zfs receive -F}; zrepl4j never destroys on a
   * receiver on its own (DESIGN), its {@code force} is plain {@code -F} (used only to replace a
   * placeholder). So: {@code -F} replaces a filesystem without snapshots, and over one with
   * snapshots OpenZFS refuses too and nothing changes.
   */
  @Test
  void aForcedFullReceiveReplacesAFilesystemWithoutSnapshotsAndIsRefusedOverOneWithSnapshots()
      throws IOException {
    var sender = filesystemWithData(filesystem("force sender"), 1);
    zfs.snapshot(List.of(sender), "1");
    var bare = filesystemWithData(filesystem("force bare"), 1);
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
              e ->
                  assertThat(e.stderr())
                      .contains("destination has snapshots (eg. " + withSnapshots + "@")
                      .contains("must destroy them to overwrite it"));
    }
    assertThat(versions(withSnapshots)).isEqualTo(before);

    try (var stream = zfs.send(SendRequest.full(snap(sender, "1")))) {
      zfs.receive(bare, stream, ReceiveOptions.DEFAULTS.withForce(true));
    }
    assertThat(versions(bare))
        .extracting(FilesystemVersion::relativeName, FilesystemVersion::guid)
        .containsExactly(tuple("@1", version(sender, "@1").guid()));
    assertThat(guest.checksums("/" + bare)).isEqualTo(guest.checksums("/" + sender));
  }

  /**
   * zrepl: ReceiveForceIntoEncryptedErr. A forced receive of an unencrypted stream over an
   * encrypted filesystem (without snapshots, as a placeholder below an encrypted root would be) is
   * refused by OpenZFS with its own message, and the filesystem keeps its encryption and data.
   */
  @Test
  void aForcedUnencryptedReceiveOverAnEncryptedFilesystemIsRefusedAndChangesNothing()
      throws IOException {
    var target = filesystemWithData(encryptedFilesystem("enc foo bar"), 1);
    var sums = guest.checksums("/" + target);
    var sender = encryptedFilesystem("enc sender");
    zfs.snapshot(List.of(sender), "1");

    try (var stream = zfs.send(SendRequest.full(snap(sender, "1")))) {
      assertThatThrownBy(() -> zfs.receive(target, stream, ReceiveOptions.DEFAULTS.withForce(true)))
          .isInstanceOfSatisfying(
              ZfsException.class,
              e ->
                  assertThat(e.stderr())
                      .contains(
                          "zfs receive -F cannot be used to destroy an encrypted filesystem or"
                              + " overwrite an unencrypted one with an encrypted one"));
    }
    assertThat(versions(target)).isEmpty();
    assertThat(
            zfs.getProperties(List.of(target.toString()), List.of("encryption"))
                .get(target.toString())
                .get("encryption")
                .value())
        .isEqualTo("aes-256-gcm");
    assertThat(guest.checksums("/" + target)).isEqualTo(sums);
  }

  // -------------------------------------- resumableRecvAndTokenHandling.go, resumeTokenParsing.go

  /**
   * zrepl: ResumableRecvAndTokenHandling, ResumeTokenParsing (zrepl decodes tokens recorded on ZoL
   * 0.8.1; here OpenZFS 2.3 makes them): an interrupted resumable receive leaves a token that
   * decodes to the send that made it: full or incremental, guids, name, and the raw and compressed
   * flags (what send.encrypted checks rely on).
   */
  @Test
  void interruptedResumableReceivesLeaveTokensThatDecodeToTheirSends() throws IOException {
    var plain = filesystemWithData(filesystem("token send er"), 2);
    zfs.snapshot(List.of(plain), "a snapshot");
    guest.writeRandom("/" + plain + "/more", 2);
    zfs.snapshot(List.of(plain), "b snapshot");
    var encrypted = filesystemWithData(encryptedFilesystem("token enc send er"), 2);
    zfs.snapshot(List.of(encrypted), "a snapshot");
    var a = version(plain, "@a snapshot");
    var b = version(plain, "@b snapshot");
    var encA = version(encrypted, "@a snapshot");

    var full = interrupted(SendRequest.full(snap(plain, "a snapshot")), path("token full"));
    assertThat(full.toGuid()).isEqualTo(a.guid());
    assertThat(full.toName()).isEqualTo(plain + "@a snapshot");
    assertThat(full.incremental()).isFalse();
    assertThat(full.rawOk()).isFalse();
    assertThat(full.compressOk()).isFalse();

    var raw =
        interrupted(
            SendRequest.full(snap(encrypted, "a snapshot")).with(SendFlag.RAW), path("token raw"));
    assertThat(raw.toGuid()).isEqualTo(encA.guid());
    assertThat(raw.toName()).isEqualTo(encrypted + "@a snapshot");
    assertThat(raw.rawOk()).isTrue();

    var target = path("token inc");
    try (var stream = zfs.send(SendRequest.full(snap(plain, "a snapshot")))) {
      zfs.receive(target, stream, ReceiveOptions.DEFAULTS.withNoMount(true));
    }
    var inc =
        interrupted(
            SendRequest.incremental(snap(plain, "a snapshot"), snap(plain, "b snapshot"))
                .with(SendFlag.COMPRESSED),
            target);
    assertThat(inc.incremental()).isTrue();
    assertThat(inc.fromGuid()).isEqualTo(a.guid());
    assertThat(inc.toGuid()).isEqualTo(b.guid());
    assertThat(inc.toName()).isEqualTo(plain + "@b snapshot");
    assertThat(inc.compressOk()).isTrue();
    assertThat(inc.rawOk()).isFalse();
  }

  /**
   * A resumable receive of the first 512 KiB of {@code request}'s stream: it fails, and the token
   * it leaves on {@code target} is returned decoded.
   */
  private static ResumeToken interrupted(SendRequest request, DatasetPath target)
      throws IOException {
    byte[] head;
    try (var stream = zfs.send(request)) {
      head = stream.readNBytes(512 << 10);
    }
    assertThat(head).hasSize(512 << 10);
    var options = ReceiveOptions.DEFAULTS.withResumable(true).withNoMount(true);
    assertThatThrownBy(() -> zfs.receive(target, new ByteArrayInputStream(head), options))
        .isInstanceOf(ZfsException.class);
    return ResumeToken.decode(zfs.receiveResumeToken(target).orElseThrow());
  }

  // -------------------------------------------------------------------------- sendStream.go

  /**
   * zrepl: SendStreamCloseAfterBlockedOnPipeWrite, SendStreamMultipleClose*: closing a send that
   * blocks on a full pipe returns at once and its {@code zfs send} in the guest goes away; reads
   * after close fail.
   */
  @Test
  void closingASendBlockedOnAFullPipeEndsItInTheGuest() throws Exception {
    var fs = filesystemWithData(filesystem("stream blocked"), 4);
    zfs.snapshot(List.of(fs), "1");
    var pattern = "^zfs send " + fs + "@1$";

    try (var stream = zfs.send(SendRequest.full(snap(fs, "1")))) {
      FusePlatformIT.awaitPipeFull(stream);
      assertThat(guest.exec("pgrep", "-f", pattern).status()).isZero();
      var start = Instant.now();
      stream.close();
      stream.close();
      assertThat(Duration.between(start, Instant.now())).isLessThan(Duration.ofSeconds(5));
      assertThatThrownBy(() -> stream.read(new byte[128]))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("closed");
    }
    FusePlatformIT.awaitTrue(
        "no zfs send of " + fs + "@1 left in the guest",
        () -> guest.exec("pgrep", "-f", pattern).status() == 1,
        Duration.ofSeconds(20));
    zfs.destroyVersions(List.of(snap(fs, "1")));
    assertThat(versions(fs)).isEmpty();
  }

  /** zrepl: SendStreamCloseAfterEOFRead on OpenZFS: the whole stream, then close. */
  @Test
  void aSendStreamReadToItsEndEndsCleanlyAndRefusesReadsAfterClose() throws IOException {
    var fs = filesystem("stream eof");
    zfs.snapshot(List.of(fs), "1");
    var stream = zfs.send(SendRequest.full(snap(fs, "1")));
    assertThat(stream.transferTo(OutputStream.nullOutputStream())).isPositive();
    assertThat(stream.read(new byte[128])).isEqualTo(-1);
    stream.close();
    assertThatThrownBy(() -> stream.read(new byte[128]))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("closed");
  }
}
