package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.zfs.FilesystemVersion.FullName;
import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import dev.zrepl4j.zfs.SendRequest.SendFlag;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Resumable receive against OpenZFS 2.3 in the guest: a send truncated midway into {@code recv -s}
 * leaves a {@code receive_resume_token}; {@link ResumeToken#decode} must read the same fields as
 * the guest's own {@code zfs send -nvt TOKEN}, and {@code send -t TOKEN} completes the receive.
 * ({@code recv -A} is in {@link GuestOpenZfsIT}.)
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class GuestResumeIT {

  private static final String POOL = "gresume";
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

  private static String mountpoint(DatasetPath fs) {
    return "/" + fs;
  }

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

  @Test
  void resumesATruncatedReceiveWithTheDecodedTokenMatchingZfsSendNvt() throws IOException {
    var fs = filesystemWithData(src("resume"), 6);
    zfs.snapshot(List.of(fs), "s1");
    var s1 = version(fs, "@s1");
    var target = dst("resume");
    var full = SendRequest.full(snap(fs, "s1"));
    var options = ReceiveOptions.DEFAULTS.withResumable(true).withNoMount(true);

    var head = firstBytes(full, 3 << 20);
    assertThatThrownBy(() -> zfs.receive(target, new ByteArrayInputStream(head), options))
        .isInstanceOf(ZfsException.class);

    var token = zfs.receiveResumeToken(target).orElseThrow();
    var decoded = ResumeToken.decode(token);
    var nvt = zfsSendNvt(token);
    assertThat(decoded.toGuid()).isEqualTo(s1.guid());
    assertThat(decoded.toName()).isEqualTo(fs + "@s1");
    assertThat(decoded.fromGuid()).isZero();
    assertThat(decoded.incremental()).isFalse();
    assertThat(Long.toUnsignedString(decoded.toGuid())).isEqualTo(nvt.get("toguid"));
    assertThat(decoded.toName()).isEqualTo(nvt.get("toname"));
    assertThat(Long.toUnsignedString(decoded.object())).isEqualTo(nvt.get("object"));
    assertThat(Long.toUnsignedString(decoded.offset())).isEqualTo(nvt.get("offset"));
    assertThat(Long.toUnsignedString(decoded.bytes())).isEqualTo(nvt.get("bytes"));
    assertThat(decoded.bytes()).isPositive().isLessThanOrEqualTo(head.length);
    assertThat(decoded.nvlist().keySet()).containsAll(nvt.keySet());

    transfer(SendRequest.resume(token), target, options);

    assertThat(zfs.receiveResumeToken(target)).isEmpty();
    assertThat(version(target, "@s1").guid()).isEqualTo(s1.guid());
    guest.zfs("mount", target.toString()).ok();
    assertThat(guest.checksums(mountpoint(target))).isEqualTo(guest.checksums(mountpoint(fs)));
  }

  @Test
  void resumesATruncatedIncrementalReceive() throws IOException {
    var fs = filesystemWithData(src("resume-inc"), 1);
    zfs.snapshot(List.of(fs), "s1");
    var target = dst("resume-inc");
    var options = ReceiveOptions.DEFAULTS.withResumable(true).withNoMount(true);
    transfer(SendRequest.full(snap(fs, "s1")), target, options);
    guest.writeRandom(mountpoint(fs) + "/f1", 5);
    zfs.snapshot(List.of(fs), "s2");
    var incremental =
        SendRequest.incremental(snap(fs, "s1"), snap(fs, "s2")).with(SendFlag.COMPRESSED);

    var head = firstBytes(incremental, 2 << 20);
    assertThatThrownBy(() -> zfs.receive(target, new ByteArrayInputStream(head), options))
        .isInstanceOf(ZfsException.class);

    var token = zfs.receiveResumeToken(target).orElseThrow();
    var decoded = ResumeToken.decode(token);
    var nvt = zfsSendNvt(token);
    assertThat(decoded.incremental()).isTrue();
    assertThat(decoded.fromGuid()).isEqualTo(version(fs, "@s1").guid());
    assertThat(Long.toUnsignedString(decoded.fromGuid())).isEqualTo(nvt.get("fromguid"));
    assertThat(decoded.toGuid()).isEqualTo(version(fs, "@s2").guid());
    assertThat(decoded.compressOk()).isTrue();
    assertThat(nvt).containsKey("compressok");
    assertThat(Long.toUnsignedString(decoded.bytes())).isEqualTo(nvt.get("bytes"));

    transfer(SendRequest.resume(token), target, options);
    assertThat(zfs.receiveResumeToken(target)).isEmpty();
    assertThat(versions(target))
        .extracting(FilesystemVersion::relativeName)
        .containsExactly("@s1", "@s2");
  }

  @Test
  void resumesATruncatedRawIncrementalOfAnEncryptedDataset() throws IOException {
    guest.sh("test -e " + KEY_FILE + " || head -c 32 /dev/urandom > " + KEY_FILE);
    var fs = src("enc");
    zfs.create(
        fs,
        Map.of(
            "encryption", "aes-256-gcm",
            "keyformat", "raw",
            "keylocation", "file://" + KEY_FILE));
    guest.writeRandom(mountpoint(fs) + "/f0", 1);
    zfs.snapshot(List.of(fs), "e1");
    var target = dst("enc");
    var options = ReceiveOptions.DEFAULTS.withResumable(true).withNoMount(true);
    transfer(SendRequest.full(snap(fs, "e1")).with(SendFlag.RAW), target, options);
    guest.writeRandom(mountpoint(fs) + "/f1", 5);
    zfs.snapshot(List.of(fs), "e2");
    var raw = SendRequest.incremental(snap(fs, "e1"), snap(fs, "e2")).with(SendFlag.RAW);

    var head = firstBytes(raw, 2 << 20);
    assertThatThrownBy(() -> zfs.receive(target, new ByteArrayInputStream(head), options))
        .isInstanceOf(ZfsException.class);

    var token = zfs.receiveResumeToken(target).orElseThrow();
    var decoded = ResumeToken.decode(token);
    var nvt = zfsSendNvt(token);
    assertThat(decoded.rawOk()).isTrue();
    assertThat(nvt).containsKey("rawok");
    assertThat(decoded.toName()).isEqualTo(fs + "@e2").isEqualTo(nvt.get("toname"));
    assertThat(Long.toUnsignedString(decoded.fromGuid())).isEqualTo(nvt.get("fromguid"));
    assertThat(Long.toUnsignedString(decoded.bytes())).isEqualTo(nvt.get("bytes"));

    transfer(SendRequest.resume(token), target, options);

    assertThat(zfs.receiveResumeToken(target)).isEmpty();
    assertThat(
            zfs.getProperties(List.of(target.toString()), List.of("keystatus"))
                .get(target.toString())
                .get("keystatus")
                .value())
        .isEqualTo("unavailable");
    guest.zfs("load-key", "-L", "file://" + KEY_FILE, target.toString()).ok();
    guest.zfs("mount", target.toString()).ok();
    assertThat(guest.checksums(mountpoint(target))).isEqualTo(guest.checksums(mountpoint(fs)));
  }

  // ---------------------------------------------------------------------------------- helpers

  private static final Pattern NV_LINE = Pattern.compile("^\\s*(\\w+) = (.*)$");

  /**
   * What the guest's own {@code zfs send -nvt TOKEN} prints of the token, as name → value (uint64
   * values in unsigned decimal).
   */
  private static Map<String, String> zfsSendNvt(String token) {
    var result = guest.zfs("send", "-nvt", token);
    assertThat(result.status()).as("zfs send -nvt: %s", result).isZero();
    var text = result.out() + "\n" + result.stderr();
    assertThat(text).contains("resume token contents");
    var values = new HashMap<String, String>();
    text.lines()
        .map(NV_LINE::matcher)
        .filter(java.util.regex.Matcher::matches)
        .forEach(
            m -> {
              var v = m.group(2).strip();
              if (v.startsWith("0x")) {
                v = Long.toUnsignedString(Long.parseUnsignedLong(v.substring(2), 16));
              }
              values.put(m.group(1), v);
            });
    assertThat(values).containsKeys("toguid", "toname", "object", "offset", "bytes");
    return values;
  }
}
