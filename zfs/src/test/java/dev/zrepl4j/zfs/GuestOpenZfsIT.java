package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.zfs.FilesystemVersion.FullName;
import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import dev.zrepl4j.zfs.SendRequest.SendFlag;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The ZFS layer against OpenZFS 2.3 in the guest of {@code scripts/zfs-guest.sh}: everything that
 * zfs-fuse lacks (bookmarks, receive abort after a resumable receive, {@code zfs holds},
 * comma-batched destroy, atomic multi-dataset snapshot, raw send of encrypted datasets, send flags,
 * send size estimates). {@link RealZfs} runs on the host with the guest's {@code zfs} as its
 * binary. One pool per class; each test works in its own datasets under {@code gozfs/src} and
 * {@code gozfs/dst}. Resume tokens: {@link GuestResumeIT}. Test data is a few MiB (streams cross an
 * emulated machine at ~12 MB/s).
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class GuestOpenZfsIT {

  private static final String POOL = "gozfs";
  private static final String KEY_FILE = "/root/" + POOL + ".key";

  private static GuestZfs guest;
  private static RealZfs zfs;

  @BeforeAll
  static void setUp() throws IOException {
    guest = GuestZfs.fromEnvironment();
    guest.createPool(POOL, "-O", "compression=lz4");
    guest.zfs("create", POOL + "/src").ok();
    guest.zfs("create", POOL + "/dst").ok();
    zfs = RealZfs.start(guest.zfsArgv(), guest.zpoolArgv());
  }

  @AfterAll
  static void tearDown() {
    if (guest != null) {
      guest.destroyPoolIfExists(POOL);
      guest.exec("rm", "-f", KEY_FILE);
    }
  }

  private static DatasetPath src(String name) {
    return DatasetPath.parse(POOL + "/src/" + name);
  }

  private static DatasetPath dst(String name) {
    return DatasetPath.parse(POOL + "/dst/" + name);
  }

  private static FullName snap(DatasetPath fs, String name) {
    return new FullName(fs, VersionType.SNAPSHOT, name);
  }

  private static FullName bookmark(DatasetPath fs, String name) {
    return new FullName(fs, VersionType.BOOKMARK, name);
  }

  private static String mountpoint(DatasetPath fs) {
    return "/" + fs;
  }

  /** A new filesystem with {@code megabytes} MiB of random data in file {@code f0}. */
  private static DatasetPath filesystemWithData(DatasetPath fs, int megabytes) throws IOException {
    zfs.create(fs, Map.of());
    guest.writeRandom(mountpoint(fs) + "/f0", megabytes);
    return fs;
  }

  private static void transfer(SendRequest request, DatasetPath target, ReceiveOptions options)
      throws IOException {
    try (var stream = zfs.send(request)) {
      zfs.receive(target, stream, options);
    }
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

  /** The first {@code n} bytes of a send stream (the send is killed when the stream closes). */
  private static byte[] firstBytes(SendRequest request, int n) throws IOException {
    try (var stream = zfs.send(request)) {
      var head = stream.readNBytes(n);
      assertThat(head).as("stream longer than %d bytes", n).hasSize(n);
      return head;
    }
  }

  // -------------------------------------------------------------------------------------- tests

  @Test
  void listsWhatExistsOfSeveralDatasetsInOneCommandLeavingOutMissingOnes() throws IOException {
    var fs = src("exists");
    zfs.create(fs, Map.of());
    zfs.snapshot(List.of(fs), "e1");
    zfs.bookmark(snap(fs, "e1"), "b1");
    var nope = src("missing");
    var versions = zfs.listVersionsOfExisting(List.of(fs, nope));
    assertThat(versions.get(fs))
        .extracting(FilesystemVersion::name)
        .containsExactlyInAnyOrder("e1", "b1");
    assertThat(versions.get(nope)).isEmpty();
    assertThat(zfs.listFilesystemsBelow(List.of(fs, nope), p -> true)).containsExactly(fs);
    var props =
        zfs.getPropertiesOfExisting(
            List.of(fs.toString(), nope.toString()), List.of(Zfs.PLACEHOLDER_PROPERTY));
    assertThat(props).containsOnlyKeys(fs.toString());
    assertThatThrownBy(() -> zfs.listVersions(List.of(fs, nope)))
        .isInstanceOf(ZfsException.class)
        .hasMessageContaining("dataset does not exist");
  }

  @Test
  void detectsOpenZfs2WithEveryFeature() {
    var caps = zfs.capabilities();
    assertThat(caps.openZfs()).isTrue();
    assertThat(caps.version()).startsWith("zfs-2.");
    assertThat(caps.features()).isEqualTo(EnumSet.allOf(ZfsFeature.class));
  }

  @Test
  void bookmarksAreListedAsVersionsAndServeAsIncrementalSourceAfterTheSnapshotIsGone()
      throws IOException {
    var fs = filesystemWithData(src("bm"), 2);
    zfs.snapshot(List.of(fs), "s1");
    zfs.bookmark(snap(fs, "s1"), "b1");

    var s1 = version(fs, "@s1");
    var b1 = version(fs, "#b1");
    assertThat(b1.type()).isEqualTo(VersionType.BOOKMARK);
    assertThat(b1.guid()).isEqualTo(s1.guid());
    assertThat(b1.createTxg()).isEqualTo(s1.createTxg());
    assertThat(b1.userRefsIfKnown()).isEmpty();

    var target = dst("bm");
    transfer(SendRequest.full(snap(fs, "s1")), target, ReceiveOptions.DEFAULTS);
    guest.writeRandom(mountpoint(fs) + "/f1", 2);
    zfs.snapshot(List.of(fs), "s2");
    zfs.destroyVersions(List.of(snap(fs, "s1")));
    assertThat(versions(fs))
        .extracting(FilesystemVersion::relativeName)
        .containsExactly("#b1", "@s2");

    transfer(
        SendRequest.incremental(bookmark(fs, "b1"), snap(fs, "s2")),
        target,
        ReceiveOptions.DEFAULTS);

    assertThat(versions(target))
        .extracting(FilesystemVersion::relativeName, FilesystemVersion::guid)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("@s1", s1.guid()),
            org.assertj.core.groups.Tuple.tuple("@s2", version(fs, "@s2").guid()));
    assertThat(guest.checksums(mountpoint(target))).isEqualTo(guest.checksums(mountpoint(fs)));
  }

  @Test
  void listsVersionsOfSeveralFilesystemsWithBookmarksInOneInvocation() throws IOException {
    var a = src("lv-a");
    var b = src("lv-b");
    zfs.create(a, Map.of());
    zfs.create(b, Map.of());
    zfs.snapshot(List.of(a, b), "x");
    zfs.bookmark(snap(a, "x"), "x");
    zfs.snapshot(List.of(a), "y");

    long before = zfs.invocations();
    var all = zfs.listVersions(List.of(a, b));
    assertThat(zfs.invocations() - before).isEqualTo(1);

    assertThat(all.get(a))
        .extracting(FilesystemVersion::relativeName)
        .containsExactlyInAnyOrder("@x", "#x", "@y");
    assertThat(all.get(b)).extracting(FilesystemVersion::relativeName).containsExactly("@x");
    var guidOfAx = guest.zfs("get", "-H", "-p", "-o", "value", "guid", a + "@x").ok().strip();
    assertThat(all.get(a).getFirst().guidString()).isEqualTo(guidOfAx);
  }

  @Test
  void listedGuidsTxgsCreationAndUserrefsAgreeWithTheGuestsOwnListing() throws IOException {
    // 24 random 64-bit guids: about half are above Long.MAX_VALUE (20 digits, unsigned)
    var fs = src("numbers");
    zfs.create(fs, Map.of());
    for (int i = 0; i < 12; i++) {
      zfs.snapshot(List.of(fs), "n" + i);
      zfs.bookmark(snap(fs, "n" + i), "n" + i);
    }
    zfs.hold("h", List.of(snap(fs, "n3")));

    var listed = versions(fs);

    var expected =
        guest
            .zfs(
                "list",
                "-H",
                "-p",
                "-o",
                "name,guid,createtxg,creation,userrefs",
                "-t",
                "snapshot,bookmark",
                "-s",
                "createtxg",
                "-d",
                "1",
                fs.toString())
            .ok()
            .lines()
            .toList();
    assertThat(listed).hasSize(24);
    assertThat(
            listed.stream()
                .map(
                    v ->
                        String.join(
                            "\t",
                            v.fullName(),
                            v.guidString(),
                            Long.toUnsignedString(v.createTxg()),
                            Long.toString(v.creation().getEpochSecond()),
                            v.isBookmark() ? "-" : Long.toString(v.userRefs())))
                .toList())
        .containsExactlyInAnyOrderElementsOf(expected);
    zfs.release("h", List.of(snap(fs, "n3")));
  }

  @Test
  void receiveSetsAndExcludesPropertiesWithOAndX() throws IOException {
    var fs = src("recvprops");
    zfs.create(fs, Map.of("zrepl4j:keep", "yes", "zrepl4j:drop", "yes", "atime", "off"));
    zfs.snapshot(List.of(fs), "s1");
    var target = dst("recvprops");

    transfer(
        SendRequest.full(snap(fs, "s1")).with(SendFlag.PROPERTIES),
        target,
        ReceiveOptions.DEFAULTS
            .withNoMount(true)
            .withProperties(
                Map.of("zrepl4j:set", "by recv", "atime", "on"), List.of("zrepl4j:drop")));

    var props =
        zfs.getProperties(
                List.of(target.toString()),
                List.of("zrepl4j:keep", "zrepl4j:drop", "zrepl4j:set", "atime"))
            .get(target.toString());
    assertThat(props.get("zrepl4j:keep")).isEqualTo(new Property("yes", "received"));
    assertThat(props.get("zrepl4j:drop").isSet()).isFalse();
    assertThat(props.get("zrepl4j:set")).isEqualTo(new Property("by recv", "local"));
    assertThat(props.get("atime")).isEqualTo(new Property("on", "local"));
  }

  @Test
  void abortsAPartialReceive() throws IOException {
    var fs = filesystemWithData(src("abort"), 4);
    zfs.snapshot(List.of(fs), "s1");
    var target = dst("abort");
    var options = ReceiveOptions.DEFAULTS.withResumable(true).withNoMount(true);
    var head = firstBytes(SendRequest.full(snap(fs, "s1")), 2 << 20);
    assertThatThrownBy(() -> zfs.receive(target, new ByteArrayInputStream(head), options))
        .isInstanceOf(ZfsException.class);
    assertThat(zfs.receiveResumeToken(target)).isPresent();

    zfs.abortReceive(target);

    assertThat(guest.zfs("list", "-H", "-o", "name", target.toString()).status()).isEqualTo(1);
    assertThat(guest.zfs("list", "-H", "-o", "name", "-r", POOL + "/dst").ok())
        .doesNotContain("abort");
    // a fresh full receive now succeeds
    transfer(SendRequest.full(snap(fs, "s1")), target, ReceiveOptions.DEFAULTS);
    assertThat(guest.checksums(mountpoint(target))).isEqualTo(guest.checksums(mountpoint(fs)));
  }

  @Test
  void aSendKilledMidwayInTheGuestIsAFailureOfTheStream() throws IOException {
    var fs = filesystemWithData(src("killed"), 10);
    zfs.snapshot(List.of(fs), "s1");
    try (var stream = zfs.send(SendRequest.full(snap(fs, "s1")))) {
      assertThat(stream.readNBytes(64 << 10)).hasSize(64 << 10);

      guest.exec("pkill", "-9", "-f", "^zfs send " + fs + "@s1$").ok();

      assertThatThrownBy(() -> stream.transferTo(java.io.OutputStream.nullOutputStream()))
          .isInstanceOfSatisfying(
              ZfsException.class, e -> assertThat(e.exitStatus()).isEqualTo(128 + 9))
          .hasMessageContaining("killed by signal 9");
    }
  }

  @Test
  void listsHoldsAndAHeldSnapshotCannotBeDestroyed() throws IOException {
    var fs = src("holds");
    zfs.create(fs, Map.of());
    zfs.snapshot(List.of(fs), "a");
    zfs.snapshot(List.of(fs), "b");
    var a = snap(fs, "a");
    var b = snap(fs, "b");
    zfs.hold("keep", List.of(a, b));
    zfs.hold("zrepl_step", List.of(a));

    var holds = zfs.listHolds(List.of(a, b));
    assertThat(holds)
        .extracting(h -> h.snapshot().toString() + " " + h.tag())
        .containsExactlyInAnyOrder(fs + "@a keep", fs + "@a zrepl_step", fs + "@b keep");
    assertThat(holds).allSatisfy(h -> assertThat(h.created()).isAfter(java.time.Instant.EPOCH));
    assertThat(version(fs, "@a").userRefs()).isEqualTo(2);

    assertThatThrownBy(() -> zfs.destroyVersions(List.of(a)))
        .isInstanceOf(ZfsException.class)
        .satisfies(e -> assertThat(((ZfsException) e).stderr()).contains("it's being held"));

    zfs.release("keep", List.of(a, b));
    zfs.release("zrepl_step", List.of(a));
    assertThat(zfs.listHolds(List.of(a, b))).isEmpty();
    assertThat(version(fs, "@a").userRefs()).isZero();
    zfs.destroyVersions(List.of(a, b));
    assertThat(versions(fs)).isEmpty();
  }

  @Test
  void destroysSnapshotsOfOneFilesystemInOneCommaBatchedCommand() throws IOException {
    var fs = src("comma");
    zfs.create(fs, Map.of());
    for (var n : List.of("s1", "s2", "s3", "s4", "s5")) {
      zfs.snapshot(List.of(fs), n);
    }
    zfs.bookmark(snap(fs, "s1"), "b1");

    long before = zfs.invocations();
    zfs.destroyVersions(List.of(snap(fs, "s1"), snap(fs, "s2"), snap(fs, "s4")));
    assertThat(zfs.invocations() - before).isEqualTo(1);
    assertThat(versions(fs))
        .extracting(FilesystemVersion::relativeName)
        .containsExactly("#b1", "@s3", "@s5");

    zfs.destroyVersions(List.of(bookmark(fs, "b1"), snap(fs, "s5")));
    assertThat(versions(fs)).extracting(FilesystemVersion::relativeName).containsExactly("@s3");
  }

  @Test
  void snapshotsSeveralFilesystemsAtomicallyInOneCommand() throws IOException {
    var fss = List.of(src("multi-a"), src("multi-b"), src("multi-c"));
    for (var fs : fss) {
      zfs.create(fs, Map.of());
    }

    long before = zfs.invocations();
    zfs.snapshot(fss, "atomic");
    assertThat(zfs.invocations() - before).isEqualTo(1);

    var all = zfs.listVersions(fss);
    var txgs = new HashMap<DatasetPath, Long>();
    for (var fs : fss) {
      assertThat(all.get(fs))
          .extracting(FilesystemVersion::relativeName)
          .containsExactly("@atomic");
      txgs.put(fs, all.get(fs).getFirst().createTxg());
    }
    assertThat(txgs.values())
        .as("one transaction group: atomic")
        .containsOnly(txgs.get(fss.get(0)));
  }

  @Test
  void rawSendOfAnEncryptedDatasetArrivesEncryptedAndReadableAfterLoadKey() throws IOException {
    guest.sh("test -e " + KEY_FILE + " || head -c 32 /dev/urandom > " + KEY_FILE);
    var fs = src("enc");
    zfs.create(
        fs,
        Map.of(
            "encryption", "aes-256-gcm",
            "keyformat", "raw",
            "keylocation", "file://" + KEY_FILE));
    guest.writeRandom(mountpoint(fs) + "/secret", 3);
    zfs.snapshot(List.of(fs), "e1");
    var target = dst("enc");

    transfer(
        SendRequest.full(snap(fs, "e1")).with(SendFlag.RAW),
        target,
        ReceiveOptions.DEFAULTS.withNoMount(true));
    guest.writeRandom(mountpoint(fs) + "/secret2", 1);
    zfs.snapshot(List.of(fs), "e2");
    transfer(
        SendRequest.incremental(snap(fs, "e1"), snap(fs, "e2")).with(SendFlag.RAW),
        target,
        ReceiveOptions.DEFAULTS.withNoMount(true));

    var props =
        zfs.getProperties(
                List.of(target.toString()), List.of("encryption", "keystatus", "encryptionroot"))
            .get(target.toString());
    assertThat(props.get("encryption").value()).isEqualTo("aes-256-gcm");
    assertThat(props.get("keystatus").value()).isEqualTo("unavailable");
    assertThat(props.get("encryptionroot").value()).isEqualTo(target.toString());
    assertThat(guest.zfs("mount", target.toString()).status()).isNotZero();

    guest.zfs("load-key", "-L", "file://" + KEY_FILE, target.toString()).ok();
    guest.zfs("mount", target.toString()).ok();

    assertThat(
            zfs.getProperties(List.of(target.toString()), List.of("keystatus"))
                .get(target.toString())
                .get("keystatus")
                .value())
        .isEqualTo("available");
    assertThat(guest.checksums(mountpoint(target))).isEqualTo(guest.checksums(mountpoint(fs)));
  }

  @Test
  void sendFlagsCompressedLargeBlocksEmbeddedAndPropertiesAreAccepted() throws IOException {
    var fs = src("flags");
    zfs.create(fs, Map.of("recordsize", "1M", "zrepl4j:origin", "guest test"));
    // compressible (lz4 on the pool) and incompressible data, large records
    guest.sh("yes zrepl4j | head -c 4194304 > " + mountpoint(fs) + "/text && sync");
    guest.writeRandom(mountpoint(fs) + "/random", 2);
    zfs.snapshot(List.of(fs), "s1");
    var request =
        SendRequest.full(snap(fs, "s1"))
            .with(
                SendFlag.COMPRESSED, SendFlag.LARGE_BLOCKS, SendFlag.EMBEDDED, SendFlag.PROPERTIES);
    long estimate = zfs.estimateSendSize(request);
    long plainEstimate = zfs.estimateSendSize(SendRequest.full(snap(fs, "s1")));

    var target = dst("flags");
    long[] sent = new long[1];
    try (var stream = zfs.send(request)) {
      var counting =
          new java.io.FilterInputStream(stream) {
            @Override
            public int read(byte[] b, int off, int len) throws IOException {
              int n = super.read(b, off, len);
              if (n > 0) {
                sent[0] += n;
              }
              return n;
            }
          };
      zfs.receive(target, counting, ReceiveOptions.DEFAULTS);
    }

    // -c keeps the lz4-compressed text compressed: far below 6 MiB of logical data
    assertThat(sent[0]).isBetween(2L << 20, 3L << 20);
    assertThat(plainEstimate).isGreaterThan(6L << 20);
    assertThat(estimate).isBetween(sent[0] * 9 / 10, sent[0] * 11 / 10);
    var props =
        zfs.getProperties(List.of(target.toString()), List.of("recordsize", "zrepl4j:origin"))
            .get(target.toString());
    assertThat(props.get("zrepl4j:origin")).isEqualTo(new Property("guest test", "received"));
    assertThat(props.get("recordsize").value()).isEqualTo("1048576");
    assertThat(guest.checksums(mountpoint(target))).isEqualTo(guest.checksums(mountpoint(fs)));
  }

  @Test
  void estimatesTheSizeOfAnIncrementalSendFromABookmark() throws IOException {
    var fs = filesystemWithData(src("estimate"), 1);
    zfs.snapshot(List.of(fs), "s1");
    zfs.bookmark(snap(fs, "s1"), "b1");
    guest.writeRandom(mountpoint(fs) + "/f1", 3);
    zfs.snapshot(List.of(fs), "s2");
    var request = SendRequest.incremental(bookmark(fs, "b1"), snap(fs, "s2"));

    long estimate = zfs.estimateSendSize(request);

    long actual;
    try (var stream = zfs.send(request)) {
      actual = stream.transferTo(java.io.OutputStream.nullOutputStream());
    }
    assertThat(actual).isBetween(3L << 20, 4L << 20);
    assertThat(estimate).isBetween(actual * 9 / 10, actual * 11 / 10);
  }
}
