package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.zfs.SendStreamDigest.Digest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

class SendStreamDigestTest {
  private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
  private static final ByteOrder BE = ByteOrder.BIG_ENDIAN;
  private static final long GUID = 0x72ac480f09945db4L;
  private static final int BLOCK = 128 << 10;

  /** Builds synthetic send streams in one byte order. */
  static final class StreamBuilder {
    private final ByteOrder order;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    /** Whether non-BEGIN records carry their payload length in drr_payloadlen (OpenZFS 2.x). */
    private boolean declare;

    StreamBuilder(ByteOrder order) {
      this.order = order;
    }

    StreamBuilder declaringPayloadLengths() {
      declare = true;
      return this;
    }

    StreamBuilder record(int type, int payloadLen, Consumer<ByteBuffer> fields, byte[] payload) {
      var h = ByteBuffer.allocate(SendStreamDigest.HEADER_SIZE).order(order);
      h.putInt(0, type).putInt(4, payloadLen);
      fields.accept(h);
      out.writeBytes(h.array());
      out.writeBytes(payload);
      return this;
    }

    StreamBuilder begin() {
      return begin(SendStreamDigest.SUBSTREAM, GUID, 0);
    }

    StreamBuilder begin(long versionInfo, long toGuid, long fromGuid) {
      return record(
          SendStreamDigest.BEGIN,
          0,
          h -> {
            h.putLong(8, SendStreamDigest.MAGIC)
                .putLong(16, versionInfo)
                .putLong(24, 1_700_000_000L)
                .putInt(32, 2)
                .putLong(40, toGuid)
                .putLong(48, fromGuid);
            h.put(56, "pool/fs@s1".getBytes(StandardCharsets.US_ASCII));
          },
          new byte[0]);
    }

    /** A plain-file OBJECT with a bonus buffer (padded to 8 bytes in the stream). */
    StreamBuilder object(long object, byte[] bonus) {
      var payload = Arrays.copyOf(bonus, (bonus.length + 7) & ~7);
      return record(
          SendStreamDigest.OBJECT,
          declare ? payload.length : 0,
          h ->
              h.putLong(8, object)
                  .putInt(16, 19)
                  .putInt(20, 17)
                  .putInt(24, BLOCK)
                  .putInt(28, bonus.length)
                  .put(32, (byte) 7)
                  .putLong(40, GUID),
          payload);
    }

    /** An uncompressed WRITE. */
    StreamBuilder write(long object, long offset, byte[] data) {
      return record(
          SendStreamDigest.WRITE,
          declare ? data.length : 0,
          h ->
              h.putLong(8, object)
                  .putInt(16, 19)
                  .putLong(24, offset)
                  .putLong(32, data.length)
                  .putLong(40, GUID)
                  .put(48, (byte) 7),
          data);
    }

    /** A compressed WRITE (as {@code zfs send -c} and raw streams have). */
    StreamBuilder compressedWrite(long object, long offset, int logical, byte[] compressed) {
      return record(
          SendStreamDigest.WRITE,
          declare ? compressed.length : 0,
          h ->
              h.putLong(8, object)
                  .putInt(16, 19)
                  .putLong(24, offset)
                  .putLong(32, logical)
                  .putLong(40, GUID)
                  .put(50, (byte) 15)
                  .putLong(96, compressed.length),
          compressed);
    }

    StreamBuilder free(long object, long offset, long length) {
      return record(
          SendStreamDigest.FREE,
          0,
          h -> h.putLong(8, object).putLong(16, offset).putLong(24, length).putLong(32, GUID),
          new byte[0]);
    }

    StreamBuilder freeObjects(long first, long count) {
      return record(
          SendStreamDigest.FREEOBJECTS,
          0,
          h -> h.putLong(8, first).putLong(16, count).putLong(24, GUID),
          new byte[0]);
    }

    StreamBuilder end() {
      return record(SendStreamDigest.END, 0, h -> h.putLong(40, GUID), new byte[0]);
    }

    StreamBuilder bytes(byte[] b) {
      out.writeBytes(b);
      return this;
    }

    byte[] build() {
      return out.toByteArray();
    }
  }

  private static byte[] random(int seed, int n) {
    var b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  private static final byte[] BONUS = random(1, 264);
  private static final byte[] DATA0 = random(2, BLOCK);
  private static final byte[] DATA1 = random(3, BLOCK);

  /** A small filesystem: the root directory, a two-block file and a short file. */
  private static StreamBuilder content(StreamBuilder b) {
    return b.begin()
        .object(1, random(4, 168))
        .object(2, BONUS)
        .object(3, random(5, 264))
        .write(1, 0, random(6, 512))
        .write(2, 0, DATA0)
        .write(2, BLOCK, DATA1)
        .write(3, 0, random(7, 512));
  }

  private static byte[] standard(ByteOrder order) {
    return content(new StreamBuilder(order)).end().build();
  }

  static Digest digest(byte[] stream) {
    try {
      return SendStreamDigest.of(new ByteArrayInputStream(stream));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String sha(byte[] stream) {
    return digest(stream).sha256();
  }

  // ---- equal content, equal digest

  @Test
  void bothByteOrdersOfTheSameContentHaveTheSameDigest() {
    var le = standard(LE);
    var be = standard(BE);
    assertThat(be).isNotEqualTo(le);
    assertThat(digest(be)).isEqualTo(digest(le));
  }

  @Test
  void countsRecordsAndHashedPayloadBytes() {
    var d = digest(standard(LE));
    assertThat(d.records()).isEqualTo(9);
    assertThat(d.contentBytes()).isEqualTo(168 + 264 + 264 + 512 + 2L * BLOCK + 512);
    assertThat(d.raw()).isFalse();
    assertThat(d.sha256()).matches("[0-9a-f]{64}");
  }

  @Test
  void freeAndFreeObjectsRecordsDoNotChangeTheDigest() {
    var with =
        content(new StreamBuilder(LE))
            .free(2, 2 * BLOCK, -1)
            .freeObjects(4, 28)
            .free(3, 512, -1)
            .end()
            .build();
    var d = digest(with);
    assertThat(d.sha256()).isEqualTo(sha(standard(LE)));
    assertThat(d.records()).isEqualTo(12);
  }

  @Test
  void anAllZeroWriteIsLikeAHole() {
    var zeros = content(new StreamBuilder(LE)).write(2, 2 * BLOCK, new byte[BLOCK]).end().build();
    var hole = content(new StreamBuilder(BE)).free(2, 2 * BLOCK, BLOCK).end().build();
    assertThat(digest(zeros).sha256()).isEqualTo(sha(standard(LE))).isEqualTo(sha(hole));
    assertThat(digest(zeros).contentBytes()).isEqualTo(digest(standard(LE)).contentBytes());
  }

  @Test
  void aCompressedOrRawZeroWriteIsHashed() {
    var compressed =
        content(new StreamBuilder(LE)).compressedWrite(2, 2 * BLOCK, BLOCK, new byte[16]).end();
    assertThat(sha(compressed.build())).isNotEqualTo(sha(standard(LE)));

    long rawVersion = SendStreamDigest.SUBSTREAM | (SendStreamDigest.FEATURE_RAW << 2);
    var rawWithZeros =
        new StreamBuilder(LE).begin(rawVersion, GUID, 0).write(2, 0, new byte[BLOCK]).end();
    var rawWithout = new StreamBuilder(LE).begin(rawVersion, GUID, 0).end();
    var d = digest(rawWithZeros.build());
    assertThat(d.raw()).isTrue();
    assertThat(d.contentBytes()).isEqualTo(BLOCK);
    assertThat(d.sha256()).isNotEqualTo(sha(rawWithout.build()));
  }

  @Test
  void declaredPayloadLengthsGiveTheSameDigestAsLegacyZeros() {
    var modern = content(new StreamBuilder(BE).declaringPayloadLengths()).end().build();
    assertThat(modern).isNotEqualTo(standard(BE));
    assertThat(sha(modern)).isEqualTo(sha(standard(LE)));
  }

  @Test
  void readsOneByteAtATime() throws IOException {
    var stream = standard(BE);
    assertThat(SendStreamDigest.of(new OneByteInputStream(new ByteArrayInputStream(stream))))
        .isEqualTo(digest(stream));
  }

  /**
   * Pins the hashed encoding: digests are compared across hosts that may run different versions. A
   * WRITE longer than a read chunk whose only non-zero byte is its last also checks that a deferred
   * zero prefix is hashed.
   */
  @Test
  void hashesTheDocumentedEncoding() throws NoSuchAlgorithmException {
    var bonus = new byte[] {1, 2, 3, 4, 5};
    var data = new byte[3 * SendStreamDigest.CHUNK + 10];
    data[data.length - 1] = 9;
    var stream = new StreamBuilder(LE).begin().object(7, bonus).write(7, 0, data).end().build();

    var sha = MessageDigest.getInstance("SHA-256");
    var f = ByteBuffer.allocate(128); // big endian
    f.put((byte) 'B').putLong(GUID);
    f.put((byte) 'O').putLong(7).putInt(19).putInt(17).putInt(BLOCK).putInt(5).putInt(8);
    sha.update(f.array(), 0, f.position());
    sha.update(Arrays.copyOf(bonus, 8));
    f.clear();
    f.put((byte) 'W').putLong(7).putLong(0).putLong(data.length).put((byte) 0).putLong(0);
    f.putInt(data.length);
    sha.update(f.array(), 0, f.position());
    sha.update(data);

    var d = digest(stream);
    assertThat(d.sha256()).isEqualTo(HexFormat.of().formatHex(sha.digest()));
    assertThat(d.contentBytes()).isEqualTo(8 + data.length);
    assertThat(d.records()).isEqualTo(4);
  }

  @Test
  void readsThePayloadsOfSpillEmbeddedObjectRangeAndRawObjectRecords() {
    long rawVersion = SendStreamDigest.SUBSTREAM | (SendStreamDigest.FEATURE_RAW << 2);
    var b =
        new StreamBuilder(BE)
            .begin(rawVersion, GUID, 0)
            .record(
                SendStreamDigest.OBJECT_RANGE, 0, h -> h.putLong(8, 0).putLong(16, 32), new byte[0])
            .record(
                SendStreamDigest.OBJECT,
                0,
                h -> h.putLong(8, 2).putInt(28, 10).putInt(36, 320),
                random(8, 320))
            .record(
                SendStreamDigest.SPILL,
                0,
                h -> h.putLong(8, 2).putLong(16, 512).putLong(40, 100),
                random(9, 100))
            .record(SendStreamDigest.SPILL, 0, h -> h.putLong(8, 3).putLong(16, 24), random(10, 24))
            .record(
                SendStreamDigest.WRITE_EMBEDDED,
                0,
                h -> h.putLong(8, 2).putLong(24, 512).putInt(48, 512).putInt(52, 13),
                random(11, 16))
            .record(SendStreamDigest.REDACT, 0, h -> h.putLong(8, 2), new byte[0])
            .end();
    var d = digest(b.build());
    assertThat(d.raw()).isTrue();
    assertThat(d.records()).isEqualTo(8);
    assertThat(d.contentBytes()).isEqualTo(320 + 100 + 24 + 16);
  }

  // ---- different content, different digest

  @Test
  void aChangedPayloadByteChangesTheDigest() {
    var changed = DATA1.clone();
    changed[BLOCK / 2] ^= 1;
    var b =
        new StreamBuilder(LE)
            .begin()
            .object(1, random(4, 168))
            .object(2, BONUS)
            .object(3, random(5, 264))
            .write(1, 0, random(6, 512))
            .write(2, 0, DATA0)
            .write(2, BLOCK, changed)
            .write(3, 0, random(7, 512))
            .end();
    assertThat(sha(b.build())).isNotEqualTo(sha(standard(LE)));
  }

  @Test
  void aChangedBonusByteChangesTheDigest() {
    var changed = BONUS.clone();
    changed[16] ^= 0x40; // e.g. a bit of the mode
    var b =
        new StreamBuilder(LE)
            .begin()
            .object(1, random(4, 168))
            .object(2, changed)
            .object(3, random(5, 264))
            .write(1, 0, random(6, 512))
            .write(2, 0, DATA0)
            .write(2, BLOCK, DATA1)
            .write(3, 0, random(7, 512))
            .end();
    assertThat(sha(b.build())).isNotEqualTo(sha(standard(LE)));
  }

  @Test
  void aMovedBlockOrAnotherSnapshotChangesTheDigest() {
    var moved = new StreamBuilder(LE).begin().object(2, BONUS).write(2, BLOCK, DATA0).end();
    var inPlace = new StreamBuilder(LE).begin().object(2, BONUS).write(2, 0, DATA0).end();
    var otherGuid =
        new StreamBuilder(LE)
            .begin(SendStreamDigest.SUBSTREAM, GUID + 1, 0)
            .object(2, BONUS)
            .write(2, 0, DATA0)
            .end();
    assertThat(sha(moved.build())).isNotEqualTo(sha(inPlace.build()));
    assertThat(sha(otherGuid.build())).isNotEqualTo(sha(inPlace.build()));
  }

  /**
   * Random streams of three random-length WRITEs: the other byte order gives the same digest, and
   * any one flipped bit of any WRITE changes it. Seeded, so a failure reproduces.
   */
  @Test
  void anyFlippedBitOfAWriteChangesTheDigestInEitherByteOrder() {
    var rnd = new Random(20_240_601);
    for (int round = 0; round < 50; round++) {
      var order = rnd.nextBoolean() ? BE : LE;
      var original = new StreamBuilder(LE).begin().object(2, BONUS);
      var same = new StreamBuilder(order).begin().object(2, BONUS);
      var flipped = new StreamBuilder(order).begin().object(2, BONUS);
      int w = rnd.nextInt(3);
      for (int i = 0; i < 3; i++) {
        var data = new byte[1 + rnd.nextInt(4096)];
        rnd.nextBytes(data);
        original.write(2, (long) i * BLOCK, data);
        same.write(2, (long) i * BLOCK, data);
        var copy = data.clone();
        if (i == w) {
          copy[rnd.nextInt(copy.length)] ^= (byte) (1 << rnd.nextInt(8));
        }
        flipped.write(2, (long) i * BLOCK, copy);
      }
      var expected = digest(original.end().build());
      assertThat(digest(same.end().build())).isEqualTo(expected);
      assertThat(digest(flipped.end().build()).sha256()).isNotEqualTo(expected.sha256());
    }
  }

  // ---- malformed, truncated and unsupported streams

  private static void assertRefused(byte[] stream, String... parts) {
    assertThatThrownBy(() -> SendStreamDigest.of(new ByteArrayInputStream(stream)))
        .isInstanceOf(ZfsParseException.class)
        .hasMessageContainingAll(parts);
  }

  @Test
  void aTruncatedStreamNamesTheOffset() {
    var full = standard(LE);
    int afterWrite0 = 312 + 3 * 312 + 168 + 264 + 264 + 312 + 512 + 312 + BLOCK;
    for (int cut :
        new int[] {
          0,
          7,
          100,
          312,
          313,
          400,
          312 + 312 + 100,
          afterWrite0 - 1,
          afterWrite0 + 5,
          full.length - 312,
          full.length - 1
        }) {
      assertRefused(Arrays.copyOf(full, cut), "truncated stream at offset " + cut);
    }
  }

  @Test
  void dataAfterTheEndRecordIsAnError() {
    var full = standard(LE);
    var more = new StreamBuilder(LE).bytes(full).bytes(new byte[] {0}).build();
    assertRefused(more, "data after the END record at offset " + full.length);
    var twice = new StreamBuilder(LE).bytes(full).bytes(full).build();
    assertRefused(twice, "data after the END record");
  }

  @Test
  void aWrongMagicIsNotASendStream() {
    var b = standard(LE);
    b[8] ^= 1;
    assertRefused(b, "not a zfs send stream", "offset 8");
    assertRefused("hello, world, this is text".getBytes(StandardCharsets.UTF_8), "not a zfs send");
  }

  @Test
  void compoundAndIncrementalStreamsAreRefused() {
    var compound = new StreamBuilder(LE).begin(SendStreamDigest.COMPOUNDSTREAM, GUID, 0).end();
    assertRefused(compound.build(), "compound (-R) streams are not supported");
    var incremental = new StreamBuilder(BE).begin(SendStreamDigest.SUBSTREAM, GUID, 1234).end();
    assertRefused(incremental.build(), "an incremental stream", "fromguid 1234");
  }

  @Test
  void payloadsOver16MiBAreRefusedBeforeReadingThem() {
    for (long size : new long[] {(16 << 20) + 1, 1L << 32, -1L}) {
      var b =
          new StreamBuilder(LE)
              .begin()
              .record(
                  SendStreamDigest.WRITE,
                  0,
                  h -> h.putLong(8, 2).putLong(32, size),
                  new byte[0]) // no data follows: it must not be read
              .end();
      assertRefused(
          b.build(),
          "payload of " + Long.toUnsignedString(size) + " bytes exceeds the limit",
          "WRITE record at offset 312");
    }
  }

  @Test
  void aPayloadOfExactly16MiBIsRead() {
    var data = new byte[16 << 20];
    data[5] = 1;
    var d = digest(new StreamBuilder(LE).begin().write(2, 0, data).end().build());
    assertThat(d.contentBytes()).isEqualTo(16 << 20);
  }

  @Test
  void aPayloadLengthThatDisagreesWithTheFieldsIsRefused() {
    var b =
        new StreamBuilder(LE)
            .begin()
            .record(SendStreamDigest.WRITE, 16, h -> h.putLong(8, 2).putLong(32, 24), new byte[24])
            .end();
    assertRefused(b.build(), "drr_payloadlen mismatch at offset 316", "declared 16", "give 24");
    var free =
        new StreamBuilder(LE)
            .begin()
            .record(SendStreamDigest.FREE, 8, h -> h.putLong(8, 2), new byte[8])
            .end();
    assertRefused(free.build(), "drr_payloadlen mismatch", "FREE record at offset 312");
  }

  @Test
  void unknownDeduplicatedAndMisplacedRecordsAreRefused() {
    var unknown = new StreamBuilder(BE).begin().record(42, 0, h -> {}, new byte[0]).end();
    assertRefused(unknown.build(), "unknown record type 42 at offset 312");
    var byref =
        new StreamBuilder(LE)
            .begin()
            .record(SendStreamDigest.WRITE_BYREF, 0, h -> h.putLong(8, 2), new byte[0])
            .end();
    assertRefused(byref.build(), "deduplicated streams are not supported");
    var twoBegins = new StreamBuilder(LE).begin().begin().end();
    assertRefused(twoBegins.build(), "a second BEGIN record", "offset 312");
    var endFirst =
        new StreamBuilder(LE)
            .record(SendStreamDigest.END, 0, h -> h.putLong(8, SendStreamDigest.MAGIC), new byte[0])
            .build();
    assertRefused(endFirst, "does not start with a BEGIN record");
  }
}
