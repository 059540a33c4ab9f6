package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.Deflater;
import org.junit.jupiter.api.Test;

class ResumeTokenTest {

  /** Builds a token the way libzfs does: zlib(XDR nvlist), fletcher-4 word 0, hex. */
  static String token(Map<String, Object> nv) {
    var packed = ResumeToken.encodeNvlist(nv);
    var d = new Deflater();
    d.setInput(packed);
    d.finish();
    var out = new ByteArrayOutputStream();
    var buf = new byte[1024];
    while (!d.finished()) {
      out.write(buf, 0, d.deflate(buf));
    }
    d.end();
    var compressed = out.toByteArray();
    long ck = ResumeToken.fletcher4First(compressed, ByteOrder.LITTLE_ENDIAN);
    return "1-"
        + Long.toHexString(ck)
        + "-"
        + Integer.toHexString(packed.length)
        + "-"
        + HexFormat.of().formatHex(compressed);
  }

  private static Map<String, Object> incremental() {
    var nv = new LinkedHashMap<String, Object>();
    nv.put("fromguid", Long.parseUnsignedLong("17089556158460128621"));
    nv.put("object", 8L);
    nv.put("offset", 131072L);
    nv.put("bytes", 1_234_567L);
    nv.put("toguid", Long.parseUnsignedLong("18446744073709551615"));
    nv.put("toname", "pool/my fs@zrepl_2");
    nv.put("largeblockok", true);
    nv.put("embedok", true);
    nv.put("compressok", true);
    return nv;
  }

  @Test
  void decodesAnIncrementalToken() {
    var t = ResumeToken.decode(token(incremental()));
    assertThat(Long.toUnsignedString(t.fromGuid())).isEqualTo("17089556158460128621");
    assertThat(Long.toUnsignedString(t.toGuid())).isEqualTo("18446744073709551615");
    assertThat(t.toName()).isEqualTo("pool/my fs@zrepl_2");
    assertThat(t.object()).isEqualTo(8);
    assertThat(t.offset()).isEqualTo(131072);
    assertThat(t.bytes()).isEqualTo(1_234_567);
    assertThat(t.incremental()).isTrue();
    assertThat(t.largeBlockOk()).isTrue();
    assertThat(t.embedOk()).isTrue();
    assertThat(t.compressOk()).isTrue();
    assertThat(t.rawOk()).isFalse();
    assertThat(t.nvlist()).containsKeys("object", "toname", "embedok");
    assertThat(t.toString()).contains("toname = pool/my fs@zrepl_2").contains("object = 8 (0x8)");
  }

  @Test
  void decodesAFullToken() {
    var nv = new LinkedHashMap<String, Object>();
    nv.put("object", 1L);
    nv.put("offset", 0L);
    nv.put("bytes", 0L);
    nv.put("toguid", 42L);
    nv.put("toname", "p/a@s");
    nv.put("rawok", true);
    var t = ResumeToken.decode(token(nv));
    assertThat(t.incremental()).isFalse();
    assertThat(t.rawOk()).isTrue();
  }

  @Test
  void rejectsCorruptTokens() {
    var good = token(incremental());
    var parts = good.split("-");
    assertThatThrownBy(() -> ResumeToken.decode("2-" + parts[1] + "-" + parts[2] + "-" + parts[3]))
        .hasMessageContaining("version 2");
    assertThatThrownBy(() -> ResumeToken.decode(parts[0] + "-1-" + parts[2] + "-" + parts[3]))
        .hasMessageContaining("checksum");
    assertThatThrownBy(() -> ResumeToken.decode(parts[0] + "-" + parts[1] + "-" + parts[2]))
        .hasMessageContaining("4");
    assertThatThrownBy(() -> ResumeToken.decode(parts[0] + "-" + parts[1] + "-" + parts[2] + "-zz"))
        .hasMessageContaining("hex");
    assertThatThrownBy(() -> ResumeToken.decode(parts[0] + "-" + parts[1] + "-ffff-" + parts[3]))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void decodesARealOpenZfsTokenInNativeEncoding() {
    // OpenZFS 2.3.2: zfs send -c tok/a@s2 | head -c 1500000 | zfs recv -s -u tok/b
    String token =
        "1-b83d660b3-d8-789c636064000310a500c4ec50360710e72765a52697303030419460caa7a515a796806444"
            + "e0f26c48f2499525a9c5403a435c0cabfe92fcf4d2cc140686c6af57971767061fd24092e704cbe725e6"
            + "a682e86cfd44876223062477703320dc9d9c9f5b50945a5c9c9fcd000700f81e19f3";
    var t = ResumeToken.decode(token);
    // what `zfs send -nvt` printed in the guest for this token
    assertThat(t.object()).isEqualTo(0x2);
    assertThat(t.offset()).isEqualTo(0x140000);
    assertThat(t.bytes()).isEqualTo(0x161768);
    assertThat(t.toGuid()).isEqualTo(0xc2536973a7d5f581L);
    assertThat(t.toName()).isEqualTo("tok/a@s2");
    assertThat(t.compressOk()).isTrue();
    assertThat(t.incremental()).isFalse();
    assertThat(t.nvlist().keySet())
        .containsExactly("object", "offset", "bytes", "toguid", "toname", "compressok");
  }
}
