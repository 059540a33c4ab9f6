package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The BEGIN record's identity, in either byte order, and the stream given out again unchanged. */
class StreamBeginTest {
  static byte[] begin(ByteOrder order, long magic, int type, long to, long from, String name) {
    var b = ByteBuffer.allocate(StreamBegin.SIZE).order(order);
    b.putInt(0, type);
    b.putInt(4, 0);
    b.putLong(8, magic);
    b.putLong(16, 1L << 2 | 1); // versioninfo: a substream
    b.putLong(40, to);
    b.putLong(48, from);
    var n = name.getBytes(StandardCharsets.UTF_8);
    b.put(56, n, 0, n.length);
    return b.array();
  }

  @Test
  void readsGuidsAndNameInEitherByteOrder() {
    for (var order : new ByteOrder[] {ByteOrder.LITTLE_ENDIAN, ByteOrder.BIG_ENDIAN}) {
      var h = begin(order, 0x2F5BACBACL, 0, -5L, 42L, "pool/fs@snap-1");
      assertThat(StreamBegin.parse(h, h.length))
          .isEqualTo(new StreamBegin(-5L, 42L, "pool/fs@snap-1"));
      assertThat(StreamBegin.parse(h, h.length).snapshotName()).isEqualTo("snap-1");
    }
  }

  @Test
  void anythingElseIsNoBeginRecord() {
    var good = begin(ByteOrder.LITTLE_ENDIAN, 0x2F5BACBACL, 0, 1, 0, "p/f@s");
    assertThat(StreamBegin.parse(good, StreamBegin.SIZE - 1)).as("short").isNull();
    assertThat(StreamBegin.parse(begin(ByteOrder.LITTLE_ENDIAN, 0x1234L, 0, 1, 0, "p/f@s"), 312))
        .as("magic")
        .isNull();
    assertThat(
            StreamBegin.parse(begin(ByteOrder.LITTLE_ENDIAN, 0x2F5BACBACL, 1, 1, 0, "p/f@s"), 312))
        .as("not DRR_BEGIN")
        .isNull();
    assertThat(
            StreamBegin.parse(
                begin(ByteOrder.LITTLE_ENDIAN, 0x2F5BACBACL, 0, 1, 0, "x".repeat(256)), 312))
        .as("name without its NUL")
        .isNull();
    var compound = begin(ByteOrder.LITTLE_ENDIAN, 0x2F5BACBACL, 0, 0, 0, "p/f@s");
    ByteBuffer.wrap(compound).order(ByteOrder.LITTLE_ENDIAN).putLong(16, 1L << 2 | 2);
    assertThat(StreamBegin.parse(compound, 312)).as("a compound stream (-I, -p, -R)").isNull();
    assertThat(new StreamBegin(1, 0, "p/f").snapshotName()).isEmpty();
  }

  @Test
  void theHeadedStreamGivesOutTheSameBytesByStreamAndByChannel() throws IOException {
    var rnd = new Random(3);
    for (int size : new int[] {0, 1, 311, 312, 313, 100_000}) {
      var data = new byte[size];
      rnd.nextBytes(data);
      if (size >= 312) {
        System.arraycopy(
            begin(ByteOrder.LITTLE_ENDIAN, 0x2F5BACBACL, 0, 7, 0, "a/b@c"), 0, data, 0, 312);
      }
      try (var h = HeadedStream.read(new ByteArrayInputStream(data))) {
        assertThat(h.begin() != null).isEqualTo(size >= 312);
        var out = new ByteArrayOutputStream();
        int b = h.read();
        if (b >= 0) {
          out.write(b);
        }
        out.write(h.readAllBytes());
        assertThat(out.toByteArray()).isEqualTo(data);
      }
      try (var h =
          HeadedStream.read(
              Channels.newInputStream(Channels.newChannel(new ByteArrayInputStream(data))))) {
        var out = ByteBuffer.allocate(size);
        var buf = ByteBuffer.allocateDirect(1000);
        while (h.read(buf.clear()) >= 0) {
          out.put(buf.flip());
        }
        assertThat(out.array()).isEqualTo(data);
      }
    }
  }
}
