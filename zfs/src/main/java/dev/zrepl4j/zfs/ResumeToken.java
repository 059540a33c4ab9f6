package dev.zrepl4j.zfs;

import java.io.ByteArrayOutputStream;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * A decoded {@code receive_resume_token} (what {@code zfs send -nvt} and {@code zrepl test
 * decoderesumetoken} show), decoded in pure Java.
 *
 * <p>Implementation notes: the token is {@code <version>-<checksum>-<packed size>-<payload>}, all
 * hex; version must be 1. The payload is a zlib-compressed nvlist, natively encoded by libzfs (XDR
 * is accepted too); the checksum is the first word of the fletcher-4 checksum of the compressed
 * bytes (libzfs checks only that word). The nvlist starts with a 4-byte header (encoding 1 = XDR),
 * then version and flags, then pairs: encoded size, decoded size, name (XDR string), type, element
 * count, value; two zero ints end the list.
 *
 * @param toGuid guid of the snapshot being sent
 * @param toName full name of the snapshot being sent
 * @param fromGuid guid of the incremental source, 0 for a full send
 * @param object object number to resume at
 * @param offset offset within that object
 * @param bytes bytes already received
 * @param embedOk {@code -e} was used
 * @param compressOk {@code -c} was used
 * @param rawOk {@code -w} was used
 * @param largeBlockOk {@code -L} was used
 * @param nvlist every pair of the token (Long, Integer, Boolean, String, List or nested Map)
 */
public record ResumeToken(
    long toGuid,
    String toName,
    long fromGuid,
    long object,
    long offset,
    long bytes,
    boolean embedOk,
    boolean compressOk,
    boolean rawOk,
    boolean largeBlockOk,
    Map<String, Object> nvlist) {

  private static final int MAX_PACKED_SIZE = 1 << 20;

  // nvpair data types (sys/nvpair.h)
  private static final int BOOLEAN = 1;
  private static final int BYTE = 2;
  private static final int INT16 = 3;
  private static final int UINT16 = 4;
  private static final int INT32 = 5;
  private static final int UINT32 = 6;
  private static final int INT64 = 7;
  private static final int UINT64 = 8;
  private static final int STRING = 9;
  private static final int UINT64_ARRAY = 16;
  private static final int NVLIST = 19;
  private static final int BOOLEAN_VALUE = 21;
  private static final int INT8 = 22;
  private static final int UINT8 = 23;

  public ResumeToken {
    nvlist = Collections.unmodifiableMap(new LinkedHashMap<>(nvlist));
  }

  /** Whether the interrupted send was incremental. */
  public boolean incremental() {
    return fromGuid != 0;
  }

  /**
   * Decodes a token.
   *
   * @throws IllegalArgumentException naming the problem if the token is malformed or corrupt
   */
  public static ResumeToken decode(String token) {
    var parts = token.strip().split("-", -1);
    if (parts.length != 4) {
      throw new IllegalArgumentException(
          "resume token must have 4 '-'-separated parts, has " + parts.length);
    }
    int version;
    long checksum;
    long packedSize;
    byte[] compressed;
    try {
      version = Integer.parseInt(parts[0], 16);
      checksum = Long.parseUnsignedLong(parts[1], 16);
      packedSize = Long.parseUnsignedLong(parts[2], 16);
      compressed = HexFormat.of().parseHex(parts[3]);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("resume token is not hex: " + e.getMessage(), e);
    }
    if (version != 1) {
      throw new IllegalArgumentException("unsupported resume token version " + version);
    }
    if (packedSize <= 0 || packedSize > MAX_PACKED_SIZE) {
      throw new IllegalArgumentException("resume token packed size out of range: " + packedSize);
    }
    long le = fletcher4First(compressed, ByteOrder.LITTLE_ENDIAN);
    long be = fletcher4First(compressed, ByteOrder.BIG_ENDIAN);
    if (checksum != le && checksum != be) {
      throw new IllegalArgumentException("resume token is corrupt (checksum mismatch)");
    }
    var packed = inflate(compressed, (int) packedSize);
    var nv = decodeNvlist(packed);
    return new ResumeToken(
        longValue(nv, "toguid"),
        nv.get("toname") instanceof String s ? s : "",
        nv.containsKey("fromguid") ? longValue(nv, "fromguid") : 0,
        nv.containsKey("object") ? longValue(nv, "object") : 0,
        nv.containsKey("offset") ? longValue(nv, "offset") : 0,
        nv.containsKey("bytes") ? longValue(nv, "bytes") : 0,
        nv.containsKey("embedok"),
        nv.containsKey("compressok"),
        nv.containsKey("rawok"),
        nv.containsKey("largeblockok"),
        nv);
  }

  private static long longValue(Map<String, Object> nv, String key) {
    if (nv.get(key) instanceof Long l) {
      return l;
    }
    throw new IllegalArgumentException("resume token has no uint64 '" + key + "': " + nv);
  }

  /** The first word of fletcher-4 (sum of 32-bit words; a trailing partial word is ignored). */
  static long fletcher4First(byte[] data, ByteOrder order) {
    var bb = ByteBuffer.wrap(data).order(order);
    long a = 0;
    while (bb.remaining() >= 4) {
      a += Integer.toUnsignedLong(bb.getInt());
    }
    return a;
  }

  private static byte[] inflate(byte[] compressed, int size) {
    var inf = new Inflater();
    try {
      inf.setInput(compressed);
      var out = new byte[size];
      int n = 0;
      while (n < size && !inf.finished()) {
        int r = inf.inflate(out, n, size - n);
        if (r == 0 && (inf.needsInput() || inf.needsDictionary())) {
          break;
        }
        n += r;
      }
      if (n != size || !inf.finished()) {
        throw new IllegalArgumentException(
            "resume token is corrupt: payload inflates to " + n + " bytes, expected " + size);
      }
      return out;
    } catch (DataFormatException e) {
      throw new IllegalArgumentException("resume token is corrupt: " + e.getMessage(), e);
    } finally {
      inf.end();
    }
  }

  /**
   * Decodes a packed nvlist: a 4-byte header (encoding: 0 native, as libzfs packs real tokens with
   * {@code fnvlist_pack}; 1 XDR), then the list.
   */
  static Map<String, Object> decodeNvlist(byte[] packed) {
    var bb = ByteBuffer.wrap(packed).order(ByteOrder.BIG_ENDIAN);
    if (bb.remaining() < 4) {
      throw new IllegalArgumentException("nvlist too short");
    }
    int encoding = bb.get();
    int endian = bb.get(); // of the native encoding: 1 little-endian; XDR is always big-endian
    bb.getShort();
    try {
      return switch (encoding) {
        case 0 -> {
          bb.order(endian == 1 ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN);
          bb.getInt(); // nvl_version
          bb.getInt(); // nvl_nvflag
          yield nativePairs(bb);
        }
        case 1 -> xdrNvlist(bb, 0);
        default ->
            throw new IllegalArgumentException(
                "nvlist encoding " + encoding + " is neither native (0) nor XDR (1)");
      };
    } catch (BufferUnderflowException e) {
      throw new IllegalArgumentException("nvlist truncated", e);
    }
  }

  /**
   * The pairs of a natively encoded nvlist (OpenZFS nvpair.c, nvs_native_*): each pair is {@code
   * int32 size, int16 name size (with NUL), int16 reserved, int32 element count, int32 type}, the
   * name, and the value at the next 8-byte boundary; a zero size ends the list.
   */
  private static Map<String, Object> nativePairs(ByteBuffer bb) {
    var out = new LinkedHashMap<String, Object>();
    while (true) {
      int start = bb.position();
      int size = bb.getInt();
      if (size == 0) {
        return out;
      }
      if (size < 16 || size > bb.limit() - start || size % 8 != 0) {
        throw new IllegalArgumentException("nvpair size " + size + " out of range");
      }
      int nameSize = bb.getShort();
      bb.getShort();
      int nelem = bb.getInt();
      int type = bb.getInt();
      if (nameSize < 1 || 16 + nameSize > size || nelem < 0 || nelem > size) {
        throw new IllegalArgumentException("nvpair at " + start + ": bad name size or count");
      }
      var nb = new byte[nameSize - 1];
      bb.get(nb);
      if (bb.get() != 0) {
        throw new IllegalArgumentException("nvpair name not NUL-terminated");
      }
      String name = new String(nb, StandardCharsets.UTF_8);
      int end = start + size;
      bb.position(start + ((16 + nameSize + 7) & ~7));
      Object value =
          switch (type) {
            case BOOLEAN -> Boolean.TRUE;
            case BOOLEAN_VALUE -> bb.getInt() != 0;
            case INT32 -> bb.getInt();
            case UINT32 -> Integer.toUnsignedLong(bb.getInt());
            case BYTE, INT8, UINT8 -> (int) bb.get();
            case INT16, UINT16 -> (int) bb.getShort();
            case INT64, UINT64 -> bb.getLong();
            case STRING -> {
              int from = bb.position();
              int nul = from;
              while (nul < end && packedByte(bb, nul) != 0) {
                nul++;
              }
              if (nul >= end) {
                throw new IllegalArgumentException("nvpair " + name + ": string not terminated");
              }
              var sb = new byte[nul - from];
              bb.get(sb);
              yield new String(sb, StandardCharsets.UTF_8);
            }
            case UINT64_ARRAY -> {
              var l = new ArrayList<Long>(nelem);
              for (int i = 0; i < nelem; i++) {
                l.add(bb.getLong());
              }
              yield List.copyOf(l);
            }
            case NVLIST ->
                throw new IllegalArgumentException(
                    "nvpair " + name + ": nested nvlists in native encoding are not supported");
            default -> "<nvpair type " + type + ">";
          };
      if (bb.position() > end) {
        throw new IllegalArgumentException("nvpair " + name + ": value overruns its size " + size);
      }
      bb.position(end);
      out.put(name, value);
    }
  }

  private static byte packedByte(ByteBuffer bb, int at) {
    return bb.get(at);
  }

  private static Map<String, Object> xdrNvlist(ByteBuffer bb, int depth) {
    if (depth > 16) {
      throw new IllegalArgumentException("nvlist nested too deeply");
    }
    bb.getInt(); // nvl_version
    bb.getInt(); // nvl_nvflag
    var out = new LinkedHashMap<String, Object>();
    while (true) {
      int start = bb.position();
      int encodedSize = bb.getInt();
      int decodedSize = bb.getInt();
      if (encodedSize == 0 && decodedSize == 0) {
        return out;
      }
      if (encodedSize < 8 || encodedSize > bb.limit() - start) {
        throw new IllegalArgumentException("nvpair size " + encodedSize + " out of range");
      }
      var name = xdrString(bb);
      int type = bb.getInt();
      int nelem = bb.getInt();
      if (nelem < 0 || nelem > bb.remaining()) {
        throw new IllegalArgumentException("nvpair " + name + ": bad element count " + nelem);
      }
      Object value =
          switch (type) {
            case BOOLEAN -> Boolean.TRUE;
            case BOOLEAN_VALUE -> bb.getInt() != 0;
            case BYTE, INT8, UINT8, INT16, UINT16, INT32 -> bb.getInt();
            case UINT32 -> Integer.toUnsignedLong(bb.getInt());
            case INT64, UINT64 -> bb.getLong();
            case STRING -> xdrString(bb);
            case UINT64_ARRAY -> {
              var l = new ArrayList<Long>(nelem);
              for (int i = 0; i < nelem; i++) {
                l.add(bb.getLong());
              }
              yield List.copyOf(l);
            }
            case NVLIST -> xdrNvlist(bb, depth + 1);
            default -> {
              bb.position(start + encodedSize);
              yield "<nvpair type " + type + ">";
            }
          };
      if (type != NVLIST && bb.position() != start + encodedSize) {
        throw new IllegalArgumentException(
            "nvpair "
                + name
                + ": decoded "
                + (bb.position() - start)
                + " bytes, size says "
                + encodedSize);
      }
      out.put(name, value);
    }
  }

  private static String xdrString(ByteBuffer bb) {
    int len = bb.getInt();
    if (len < 0 || len > bb.remaining()) {
      throw new IllegalArgumentException("nvlist string length " + len + " out of range");
    }
    var b = new byte[len];
    bb.get(b);
    bb.position(bb.position() + ((4 - len % 4) % 4));
    return new String(b, StandardCharsets.UTF_8);
  }

  /** Encodes an nvlist of the types above (tests build tokens with it). */
  static byte[] encodeNvlist(Map<String, Object> nv) {
    var out = new ByteArrayOutputStream();
    out.write(1); // XDR
    out.write(1); // little-endian host
    out.write(0);
    out.write(0);
    xdrEncode(out, nv);
    return out.toByteArray();
  }

  private static void xdrEncode(ByteArrayOutputStream out, Map<String, Object> nv) {
    writeInt(out, 0);
    writeInt(out, 1); // NV_UNIQUE_NAME
    for (var e : nv.entrySet()) {
      var pair = new ByteArrayOutputStream();
      writeString(pair, e.getKey());
      switch (e.getValue()) {
        case Boolean b when b -> {
          writeInt(pair, BOOLEAN);
          writeInt(pair, 0);
        }
        case Long l -> {
          writeInt(pair, UINT64);
          writeInt(pair, 1);
          writeLong(pair, l);
        }
        case String s -> {
          writeInt(pair, STRING);
          writeInt(pair, 1);
          writeString(pair, s);
        }
        default -> throw new IllegalArgumentException("cannot encode " + e);
      }
      var body = pair.toByteArray();
      writeInt(out, body.length + 8);
      writeInt(out, body.length + 8); // decoded size: not checked by the decoder
      out.writeBytes(body);
    }
    writeInt(out, 0);
    writeInt(out, 0);
  }

  private static void writeInt(ByteArrayOutputStream out, int v) {
    out.writeBytes(ByteBuffer.allocate(4).putInt(v).array());
  }

  private static void writeLong(ByteArrayOutputStream out, long v) {
    out.writeBytes(ByteBuffer.allocate(8).putLong(v).array());
  }

  private static void writeString(ByteArrayOutputStream out, String s) {
    var b = s.getBytes(StandardCharsets.UTF_8);
    writeInt(out, b.length);
    out.writeBytes(b);
    out.writeBytes(new byte[(4 - b.length % 4) % 4]);
  }

  /** Like {@code zfs send -nvt}: one {@code name = value} per pair. */
  @Override
  public String toString() {
    var sb = new StringBuilder();
    for (var e : nvlist.entrySet()) {
      var v = e.getValue();
      sb.append(e.getKey())
          .append(" = ")
          .append(
              v instanceof Long l
                  ? Long.toUnsignedString(l) + " (0x" + Long.toHexString(l) + ")"
                  : v)
          .append('\n');
    }
    return sb.toString();
  }
}
