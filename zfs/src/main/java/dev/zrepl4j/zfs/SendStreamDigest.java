package dev.zrepl4j.zfs;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;

/**
 * A content digest of a full ZFS send stream ({@code zfs send [-w] pool/fs@snap}), computed while
 * reading it: the digest of a snapshot's stream on a sender equals the digest of the same
 * snapshot's stream on a receiver that received it, even when the receiver's compression or
 * recordsize properties differ, and differs when file content or metadata differs. The {@code
 * verify} command compares a received copy against its source with it, without mounting either.
 *
 * <p>What is hashed (SHA-256; integers big endian whatever the stream's byte order, each record's
 * fields followed by its payload length as a u32 and its payload):
 *
 * <ul>
 *   <li>BEGIN: {@code 'B'}, toguid. Names, creation time and the BEGIN payload are not hashed.
 *   <li>OBJECT: {@code 'O'}, object, type, bonustype, blksz, bonuslen; the bonus buffer.
 *   <li>WRITE: {@code 'W'}, object, offset, logical size, compression type (u8), compressed size,
 *       for raw streams salt, IV and MAC; the data. A non-raw, uncompressed WRITE of only zero
 *       bytes is not hashed at all: it is a hole on a receiver that compresses.
 *   <li>SPILL: {@code 'S'}, object, length; the spill block.
 *   <li>WRITE_EMBEDDED: {@code 'E'}, object, offset, length, compression (u8), etype (u8), lsize,
 *       psize; the embedded data.
 *   <li>FREEOBJECTS, FREE, OBJECT_RANGE, REDACT and END: nothing (freed ranges equal never-written
 *       data).
 * </ul>
 *
 * <p>Refused with a {@link ZfsParseException} naming the problem and the byte offset: a stream that
 * is not a ZFS send stream, is truncated, has data after its END record, is compound ({@code -R}),
 * incremental or deduplicated ({@code -D}), has a record of unknown type, a payload over 16 MiB, or
 * a {@code drr_payloadlen} that disagrees with the record's fields. Legacy streams (zfs-fuse, pool
 * version 23; {@code drr_payloadlen} 0 and zero padding where newer fields sit) are read as well.
 * Memory is bounded: payloads are read in chunks of at most 1 MiB into one reused buffer.
 *
 * <p>Note that payloads are hashed as they are sent, in the sender's native byte order: streams of
 * the same snapshot from hosts of different endianness agree on the record fields but not
 * necessarily on the bonus buffers and metadata blocks.
 *
 * <p>Thread-safe: {@link #of} keeps no shared state.
 */
public final class SendStreamDigest {

  /**
   * The digest of one send stream.
   *
   * @param sha256 hex SHA-256 of the normalized content
   * @param records records read
   * @param contentBytes payload bytes hashed
   * @param raw the stream is a raw ({@code -w}) stream
   */
  public record Digest(String sha256, long records, long contentBytes, boolean raw) {
    public Digest {
      Objects.requireNonNull(sha256, "sha256");
      if (records < 0 || contentBytes < 0) {
        throw new IllegalArgumentException(
            "negative count: records " + records + ", contentBytes " + contentBytes);
      }
    }
  }

  /** {@code DMU_BACKUP_MAGIC}. */
  static final long MAGIC = 0x2F5BACBACL;

  /** Every record header ({@code dmu_replay_record_t}) is this long. */
  static final int HEADER_SIZE = 312;

  /** The largest payload accepted (the largest ZFS block is 16 MiB). */
  static final int MAX_PAYLOAD = 16 << 20;

  /** Payloads are read in chunks of at most this many bytes. */
  static final int CHUNK = 1 << 20;

  static final int BEGIN = 0;
  static final int OBJECT = 1;
  static final int FREEOBJECTS = 2;
  static final int WRITE = 3;
  static final int FREE = 4;
  static final int END = 5;
  static final int WRITE_BYREF = 6;
  static final int SPILL = 7;
  static final int WRITE_EMBEDDED = 8;
  static final int OBJECT_RANGE = 9;
  static final int REDACT = 10;

  /** {@code DMU_SUBSTREAM}, the header type of a single filesystem's stream. */
  static final int SUBSTREAM = 1;

  /** {@code DMU_COMPOUNDSTREAM}, the header type of a {@code zfs send -R} stream. */
  static final int COMPOUNDSTREAM = 2;

  /** {@code DMU_BACKUP_FEATURE_RAW}. */
  static final long FEATURE_RAW = 1L << 24;

  private static final String[] TYPE_NAMES = {
    "BEGIN",
    "OBJECT",
    "FREEOBJECTS",
    "WRITE",
    "FREE",
    "END",
    "WRITE_BYREF",
    "SPILL",
    "WRITE_EMBEDDED",
    "OBJECT_RANGE",
    "REDACT"
  };

  /** Compared against and fed to the digest for deferred zero prefixes; never written. */
  private static final byte[] ZEROS = new byte[64 << 10];

  private SendStreamDigest() {}

  /**
   * Reads the stream to its end (through the END record; anything after the END record is an error)
   * and returns its digest. Does not close the stream.
   *
   * @throws ZfsParseException naming what was wrong and the byte offset, for a malformed, truncated
   *     or unsupported stream
   * @throws IOException if reading fails
   */
  public static Digest of(InputStream stream) throws IOException {
    return new Reader(stream).read();
  }

  /** One pass over one stream. Not thread-safe. */
  private static final class Reader {
    private final InputStream in;
    private final MessageDigest sha = sha256();
    private final byte[] header = new byte[HEADER_SIZE];
    private ByteBuffer h = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);

    /** The hashed fields of the current record, big endian; committed before its payload. */
    private final ByteBuffer fields = ByteBuffer.allocate(128).order(ByteOrder.BIG_ENDIAN);

    private byte[] chunk = new byte[0];
    private long offset;
    private long recordOffset;
    private long records;
    private long contentBytes;
    private boolean raw;

    Reader(InputStream stream) {
      this.in = new BufferedInputStream(Objects.requireNonNull(stream, "stream"), 64 << 10);
    }

    Digest read() throws IOException {
      readBegin();
      while (true) {
        recordOffset = offset;
        if (!readHeader()) {
          throw error(
              "truncated stream at offset " + offset + ": it ends before the END record", false);
        }
        records++;
        int type = h.getInt(0);
        switch (type) {
          case OBJECT -> object();
          case WRITE -> write();
          case SPILL -> spill();
          case WRITE_EMBEDDED -> embedded();
          case FREEOBJECTS, FREE, OBJECT_RANGE, REDACT -> checkDeclared(0);
          case WRITE_BYREF -> throw error("deduplicated streams are not supported", true);
          case BEGIN -> throw error("a second BEGIN record", true);
          case END -> {
            checkDeclared(0);
            if (in.read() != -1) {
              throw error("data after the END record at offset " + offset, false);
            }
            return new Digest(HexFormat.of().formatHex(sha.digest()), records, contentBytes, raw);
          }
          default ->
              throw error(
                  "unknown record type "
                      + Integer.toUnsignedString(type)
                      + " at offset "
                      + recordOffset,
                  false);
        }
      }
    }

    private void readBegin() throws IOException {
      recordOffset = 0;
      int got = in.readNBytes(header, 0, HEADER_SIZE);
      offset = got;
      long magic = h.getLong(8);
      if (got >= 16 && magic == Long.reverseBytes(MAGIC)) {
        h = ByteBuffer.wrap(header).order(ByteOrder.BIG_ENDIAN);
      } else if (got >= 16 && magic != MAGIC) {
        throw new ZfsParseException(
            "not a zfs send stream: bad magic 0x" + Long.toHexString(magic) + " at offset 8");
      }
      if (got < HEADER_SIZE) {
        throw error(
            "truncated stream at offset " + got + " (inside the first record header)", false);
      }
      records++;
      if (h.getInt(0) != BEGIN) {
        throw error("the stream does not start with a BEGIN record", true);
      }
      long versionInfo = h.getLong(16);
      int headerType = (int) (versionInfo & 3);
      if (headerType == COMPOUNDSTREAM) {
        throw error("compound (-R) streams are not supported", true);
      }
      if (headerType != SUBSTREAM) {
        throw error("unsupported stream header type " + headerType, true);
      }
      long features = (versionInfo >>> 2) & ((1L << 30) - 1);
      raw = (features & FEATURE_RAW) != 0;
      long fromGuid = h.getLong(48);
      if (fromGuid != 0) {
        throw error(
            "an incremental stream (fromguid "
                + Long.toUnsignedString(fromGuid)
                + "); only full streams are supported",
            true);
      }
      fields.clear();
      fields.put((byte) 'B').putLong(h.getLong(40));
      commitFields();
      skip(checkedLength(Integer.toUnsignedLong(h.getInt(4))));
    }

    private void object() throws IOException {
      long bonusLen = Integer.toUnsignedLong(h.getInt(28));
      long rawBonusLen = Integer.toUnsignedLong(h.getInt(36));
      // DRR_OBJECT_PAYLOAD_SIZE
      int len = checkedLength(rawBonusLen != 0 ? rawBonusLen : roundUp8(bonusLen));
      checkDeclared(len);
      fields.clear();
      fields
          .put((byte) 'O')
          .putLong(h.getLong(8))
          .putInt(h.getInt(16))
          .putInt(h.getInt(20))
          .putInt(h.getInt(24))
          .putInt(h.getInt(28));
      hashPayload(len, false);
    }

    private void write() throws IOException {
      int compression = h.get(50) & 0xff;
      long logicalSize = h.getLong(32);
      long compressedSize = h.getLong(96);
      // DRR_WRITE_PAYLOAD_SIZE
      int len = checkedLength(compression != 0 ? compressedSize : logicalSize);
      checkDeclared(len);
      fields.clear();
      fields
          .put((byte) 'W')
          .putLong(h.getLong(8))
          .putLong(h.getLong(24))
          .putLong(logicalSize)
          .put((byte) compression)
          .putLong(compressedSize);
      if (raw) {
        fields.put(header, 104, 8 + 12 + 16); // salt, iv, mac
      }
      hashPayload(len, !raw && compression == 0);
    }

    private void spill() throws IOException {
      long length = h.getLong(16);
      long compressedSize = h.getLong(40);
      // DRR_SPILL_PAYLOAD_SIZE
      int len = checkedLength(compressedSize != 0 ? compressedSize : length);
      checkDeclared(len);
      fields.clear();
      fields.put((byte) 'S').putLong(h.getLong(8)).putLong(length);
      hashPayload(len, false);
    }

    private void embedded() throws IOException {
      int len = checkedLength(roundUp8(Integer.toUnsignedLong(h.getInt(52))));
      checkDeclared(len);
      fields.clear();
      fields
          .put((byte) 'E')
          .putLong(h.getLong(8))
          .putLong(h.getLong(16))
          .putLong(h.getLong(24))
          .put(h.get(40))
          .put(h.get(41))
          .putInt(h.getInt(48))
          .putInt(h.getInt(52));
      hashPayload(len, false);
    }

    /**
     * Reads a payload of {@code len} bytes and hashes the pending fields, the length and the
     * payload; with {@code skipIfZero}, hashes nothing if the payload is all zero bytes.
     */
    private void hashPayload(int len, boolean skipIfZero) throws IOException {
      fields.putInt(len);
      boolean committed = !skipIfZero;
      if (committed) {
        commitFields();
      }
      long zeros = 0;
      int left = len;
      while (left > 0) {
        int n = Math.min(left, CHUNK);
        readFully(n);
        left -= n;
        if (!committed) {
          if (isZero(chunk, n)) {
            zeros += n;
            continue;
          }
          commitFields();
          for (; zeros > 0; zeros -= Math.min(zeros, ZEROS.length)) {
            sha.update(ZEROS, 0, (int) Math.min(zeros, ZEROS.length));
          }
          committed = true;
        }
        sha.update(chunk, 0, n);
      }
      if (committed) {
        contentBytes += len;
      }
    }

    private void commitFields() {
      sha.update(fields.array(), 0, fields.position());
      fields.clear();
    }

    private static boolean isZero(byte[] b, int n) {
      for (int from = 0; from < n; from += ZEROS.length) {
        int to = Math.min(n, from + ZEROS.length);
        if (Arrays.mismatch(b, from, to, ZEROS, 0, to - from) != -1) {
          return false;
        }
      }
      return true;
    }

    /** Reads and discards {@code len} bytes. */
    private void skip(int len) throws IOException {
      for (int left = len; left > 0; ) {
        int n = Math.min(left, CHUNK);
        readFully(n);
        left -= n;
      }
    }

    /** Reads the next header; false at a clean end of stream before its first byte. */
    private boolean readHeader() throws IOException {
      int got = in.readNBytes(header, 0, HEADER_SIZE);
      offset += got;
      if (got == 0) {
        return false;
      }
      if (got < HEADER_SIZE) {
        throw error("truncated stream at offset " + offset + " (inside a record header)", false);
      }
      return true;
    }

    /** Reads {@code n <= CHUNK} bytes into {@link #chunk}. */
    private void readFully(int n) throws IOException {
      if (chunk.length < n) {
        chunk = new byte[Math.min(CHUNK, Math.max(n, 2 * chunk.length))];
      }
      int got = in.readNBytes(chunk, 0, n);
      offset += got;
      if (got < n) {
        throw error("truncated stream at offset " + offset + " (inside a payload)", true);
      }
    }

    /** {@code len} (an unsigned 64-bit value) as an int, refused above {@link #MAX_PAYLOAD}. */
    private int checkedLength(long len) throws ZfsParseException {
      if (len < 0 || len > MAX_PAYLOAD) {
        throw error(
            "payload of "
                + Long.toUnsignedString(len)
                + " bytes exceeds the limit of "
                + MAX_PAYLOAD
                + " bytes",
            true);
      }
      return (int) len;
    }

    /** A non-zero {@code drr_payloadlen} must agree with the length the fields give. */
    private void checkDeclared(int computed) throws ZfsParseException {
      long declared = Integer.toUnsignedLong(h.getInt(4));
      if (declared != 0 && declared != computed) {
        throw error(
            "drr_payloadlen mismatch at offset "
                + (recordOffset + 4)
                + ": declared "
                + declared
                + " bytes, the record's fields give "
                + computed,
            true);
      }
    }

    private ZfsParseException error(String message, boolean inRecord) {
      if (!inRecord) {
        return new ZfsParseException(message);
      }
      int type = h.getInt(0);
      var name =
          type >= 0 && type < TYPE_NAMES.length
              ? TYPE_NAMES[type]
              : "type " + Integer.toUnsignedString(type);
      return new ZfsParseException(
          message + " (" + name + " record at offset " + recordOffset + ")");
    }

    private static long roundUp8(long n) {
      return (n + 7) & ~7L;
    }

    private static MessageDigest sha256() {
      try {
        return MessageDigest.getInstance("SHA-256");
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("SHA-256 is missing from this JDK", e);
      }
    }
  }
}
