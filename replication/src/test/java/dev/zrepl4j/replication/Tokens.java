package dev.zrepl4j.replication;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.zip.Deflater;

/** Builds {@code receive_resume_token}s as libzfs does (XDR nvlist, zlib, fletcher-4). */
final class Tokens {
  private Tokens() {}

  /** A token for a send of {@code toName} (guid {@code toGuid}) from {@code fromGuid} (0: full). */
  static String token(long fromGuid, long toGuid, String toName) {
    return token(fromGuid, toGuid, toName, new String[0]);
  }

  /**
   * A token as above whose send had the boolean {@code flags} ({@code rawok}, {@code compressok},
   * {@code embedok}, {@code largeblockok}), as the receiver records them from the stream.
   */
  static String token(long fromGuid, long toGuid, String toName, String... flags) {
    var nv = new ByteArrayOutputStream();
    nv.writeBytes(new byte[] {1, 1, 0, 0}); // XDR
    writeInt(nv, 0);
    writeInt(nv, 1);
    if (fromGuid != 0) {
      uint64(nv, "fromguid", fromGuid);
    }
    uint64(nv, "object", 7);
    uint64(nv, "offset", 0);
    uint64(nv, "bytes", 4096);
    uint64(nv, "toguid", toGuid);
    var pair = new ByteArrayOutputStream();
    writeString(pair, "toname");
    writeInt(pair, 9); // STRING
    writeInt(pair, 1);
    writeString(pair, toName);
    writePair(nv, pair.toByteArray());
    for (var f : flags) {
      var b = new ByteArrayOutputStream();
      writeString(b, f);
      writeInt(b, 1); // BOOLEAN: present means true, no value
      writeInt(b, 0);
      writePair(nv, b.toByteArray());
    }
    writeInt(nv, 0);
    writeInt(nv, 0);
    var packed = nv.toByteArray();
    var d = new Deflater();
    d.setInput(packed);
    d.finish();
    var buf = new byte[packed.length + 64];
    int n = d.deflate(buf);
    d.end();
    var compressed = java.util.Arrays.copyOf(buf, n);
    var bb = ByteBuffer.wrap(compressed).order(ByteOrder.LITTLE_ENDIAN);
    long a = 0;
    while (bb.remaining() >= 4) {
      a += Integer.toUnsignedLong(bb.getInt());
    }
    return "1-"
        + Long.toHexString(a)
        + "-"
        + Integer.toHexString(packed.length)
        + "-"
        + HexFormat.of().formatHex(compressed);
  }

  private static void uint64(ByteArrayOutputStream out, String name, long v) {
    var pair = new ByteArrayOutputStream();
    writeString(pair, name);
    writeInt(pair, 8); // UINT64
    writeInt(pair, 1);
    pair.writeBytes(ByteBuffer.allocate(8).putLong(v).array());
    writePair(out, pair.toByteArray());
  }

  private static void writePair(ByteArrayOutputStream out, byte[] body) {
    writeInt(out, body.length + 8);
    writeInt(out, body.length + 8);
    out.writeBytes(body);
  }

  private static void writeInt(ByteArrayOutputStream out, int v) {
    out.writeBytes(ByteBuffer.allocate(4).putInt(v).array());
  }

  private static void writeString(ByteArrayOutputStream out, String s) {
    var b = s.getBytes(StandardCharsets.UTF_8);
    writeInt(out, b.length);
    out.writeBytes(b);
    out.writeBytes(new byte[(4 - b.length % 4) % 4]);
  }
}
