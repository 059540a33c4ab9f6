package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.rpc.RemoteException;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import dev.zrepl4j.zfs.Property;
import dev.zrepl4j.zfs.ZfsCapabilities;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A client's resume token decides the flags of {@code zfs send -t}: the sender refuses one whose
 * raw, compressed, embedded or large-block flags do not fit the job's send options, before any
 * {@code zfs send} starts (issue 13; zrepl's validateEncryptionFlagsCorrespondToResumeToken).
 */
class SenderResumeTokenTest {
  static final DatasetPath FS = DatasetPath.parse("p/secret");
  static final Instant T = Instant.parse("2026-01-01T00:00:00Z");
  static final FilesystemVersion A =
      new FilesystemVersion(FS, VersionType.SNAPSHOT, "a", 11, 100, T, -1);
  static final FilesystemVersion B =
      new FilesystemVersion(FS, VersionType.SNAPSHOT, "b", 22, 200, T.plusSeconds(60), -1);

  final FakeZfs zfs = new FakeZfs();

  @BeforeEach
  void dataset() {
    zfs.capabilities = ZfsCapabilities.openZfs("fake 2.3");
    zfs.versions.put(FS, List.of(A, B));
    encryption("aes-256-gcm");
  }

  void encryption(String value) {
    zfs.properties.put(FS.toString(), Map.of("encryption", new Property(value, "local")));
  }

  static SenderOptions options(boolean encrypted, boolean raw, boolean compressed) {
    return new SenderOptions(encrypted, raw, compressed, false, false, false);
  }

  /** Asks for the incremental a→b with {@code token}; returns the zfs calls that it made. */
  void resume(SenderOptions options, String token) throws Exception {
    var sender = new Sender(zfs, p -> p.equals(FS), "job", options);
    sender.send(
        new SendSpec(
            FS.toString(),
            FsVersion.of(A),
            FsVersion.of(B),
            token,
            false,
            Protection.GUARANTEE_NOTHING));
  }

  void assertRefused(SenderOptions options, String token, String... messageParts) {
    assertThatThrownBy(() -> resume(options, token))
        .isInstanceOf(RemoteException.class)
        .hasMessageContainingAll(messageParts);
    assertThat(zfs.calls).as("no zfs send started").noneMatch(c -> c.startsWith("send"));
  }

  /** The fake cannot send: an accepted token reaches zfs send, which the fake records and fails. */
  void assertAccepted(SenderOptions options, String token) {
    assertThatThrownBy(() -> resume(options, token))
        .isInstanceOf(UnsupportedOperationException.class);
    assertThat(zfs.calls).anyMatch(c -> c.startsWith("send") && c.contains("resumeToken=1-"));
  }

  @Test
  void anEncryptedJobRefusesATokenWithoutRawokThatWouldResumeAPlaintextStream() {
    assertRefused(
        options(true, false, false),
        Tokens.token(11, 22, "p/secret@b", "compressok"),
        "has no rawok",
        "send.encrypted");
  }

  @Test
  void anEncryptedJobRefusesAPlainTokenWithNoFlagsAtAll() {
    assertRefused(options(true, false, false), Tokens.token(11, 22, "p/secret@b"), "no rawok");
  }

  @Test
  void anEncryptedJobResumesItsOwnRawToken() {
    assertAccepted(
        options(true, false, false),
        Tokens.token(11, 22, "p/secret@b", "rawok", "compressok", "largeblockok"));
  }

  @Test
  void aRawJobRefusesATokenWithoutRawokOfAnEncryptedDataset() {
    assertRefused(
        options(false, true, false), Tokens.token(11, 22, "p/secret@b"), "no rawok", "send.raw");
  }

  @Test
  void aRawJobResumesATokenWithoutRawokOfAnUnencryptedDataset() {
    encryption("off"); // ZFS records rawok only for encrypted datasets
    assertAccepted(options(false, true, false), Tokens.token(11, 22, "p/secret@b", "compressok"));
  }

  @Test
  void aPlainJobRefusesARawToken() {
    assertRefused(
        options(false, false, false),
        Tokens.token(11, 22, "p/secret@b", "rawok"),
        "rawok",
        "no raw sends");
  }

  @Test
  void aPlainJobRefusesCompressedAndEmbeddedAndLargeBlockTokens() {
    var plain = options(false, false, false);
    assertRefused(plain, Tokens.token(11, 22, "p/secret@b", "compressok"), "compressok");
    assertRefused(plain, Tokens.token(11, 22, "p/secret@b", "embedok"), "embedok");
    assertRefused(plain, Tokens.token(11, 22, "p/secret@b", "largeblockok"), "largeblockok");
  }

  @Test
  void aCompressedJobResumesItsCompressedTokenAndAPlainJobItsPlainOne() {
    encryption("off");
    assertAccepted(options(false, false, true), Tokens.token(11, 22, "p/secret@b", "compressok"));
    zfs.calls.clear();
    assertAccepted(options(false, false, false), Tokens.token(11, 22, "p/secret@b"));
  }
}
