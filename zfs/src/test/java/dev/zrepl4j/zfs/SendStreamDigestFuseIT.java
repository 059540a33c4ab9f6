package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.zfs.SendStreamDigest.Digest;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link SendStreamDigest} on real (legacy, pool version 23) zfs-fuse send streams: a filesystem
 * with compression off, holding random data, a file of zero blocks and a small file, is received
 * below a parent with compression on, where the zero blocks become holes.
 */
class SendStreamDigestFuseIT {
  static FusePools a;
  static FusePools b;
  static String source;

  @BeforeAll
  static void pools() throws IOException {
    a = FusePools.create("digest-a", "128M");
    b = FusePools.create("digest-b", "128M");
    var fs = a.path("fs");
    FusePools.run("zfs", "create", "-o", "compression=off", fs.toString());
    var dir = mountpoint(fs.toString());
    var rnd = new Random(42);
    var data = new byte[300_000];
    rnd.nextBytes(data);
    Files.write(dir.resolve("random"), data);
    Files.write(dir.resolve("zeros"), new byte[1 << 20]);
    Files.writeString(dir.resolve("small"), "hello\n", StandardCharsets.UTF_8);
    FusePools.run("sync");
    source = fs + "@s1";
    FusePools.run("zfs", "snapshot", source);
    FusePools.run("zfs", "create", "-o", "compression=on", b.path("z").toString());
  }

  @AfterAll
  static void destroy() throws IOException {
    try (var x = a;
        var y = b) {
      // closes both
    }
  }

  /** {@code zfs send source | zfs recv target}, failing on either side's error. */
  private static void replicate(String snapshot, String target) throws IOException {
    FusePools.run(
        "bash", "-c", "set -o pipefail; zfs send \"$1\" | zfs recv \"$2\"", "-", snapshot, target);
  }

  private static Path mountpoint(String fs) throws IOException {
    if (!FusePools.prop(fs, "mounted").equals("yes")) {
      FusePools.run("zfs", "mount", fs);
    }
    return Path.of(FusePools.prop(fs, "mountpoint"));
  }

  /**
   * The digest of {@code zfs send snapshot}; with {@code anyGuid}, of a stream whose toguid is 0.
   */
  private static Digest digest(String snapshot, boolean anyGuid) throws IOException {
    var p = new ProcessBuilder("zfs", "send", snapshot).start();
    var stderr = new BoundedTail(4096);
    var drain = Thread.ofVirtual().start(() -> stderr.drain(p.getErrorStream()));
    try (var out = p.getInputStream()) {
      var d = SendStreamDigest.of(anyGuid ? new WithoutToGuid(out) : out);
      int status = p.waitFor();
      drain.join();
      assertThat(status).as("zfs send %s: %s", snapshot, stderr.tail()).isZero();
      return d;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while sending " + snapshot);
    } finally {
      p.destroyForcibly();
    }
  }

  /** Zeroes the BEGIN record's toguid (bytes 40 to 47 of the stream) as it is read. */
  private static final class WithoutToGuid extends FilterInputStream {
    private long position;

    WithoutToGuid(InputStream in) {
      super(in);
    }

    @Override
    public int read() throws IOException {
      int c = super.read();
      if (c < 0) {
        return c;
      }
      boolean toGuid = position >= 40 && position < 48;
      position++;
      return toGuid ? 0 : c;
    }

    @Override
    public int read(byte[] buf, int off, int len) throws IOException {
      int n = super.read(buf, off, len);
      for (int i = 0; i < n; i++, position++) {
        if (position >= 40 && position < 48) {
          buf[off + i] = 0;
        }
      }
      return n;
    }
  }

  @Test
  void aCopyReceivedWithCompressionHasTheDigestOfItsSource() throws IOException {
    var copy = b.path("z/copy").toString();
    replicate(source, copy);
    assertThat(FusePools.prop(copy, "compression")).isEqualTo("on");

    var original = digest(source, false);
    var received = digest(copy + "@s1", false);

    assertThat(received.sha256()).isEqualTo(original.sha256());
    assertThat(received.contentBytes())
        .isEqualTo(original.contentBytes())
        .isGreaterThan(300_000 + 6);
    // the eight 128 KiB zero blocks of "zeros" are WRITE records at the source, holes in the copy
    assertThat(original.records()).isEqualTo(received.records() + 8);
    assertThat(original.raw()).isFalse();
  }

  @Test
  void changedFileContentOrModeChangesTheDigest() throws IOException {
    var anyGuid = digest(source, true);

    // the same content in another snapshot: equal but for the hashed toguid
    var same = b.path("z/same").toString();
    replicate(source, same);
    FusePools.run("zfs", "snapshot", same + "@s2");
    var sameContent = digest(same + "@s2", true);
    assertThat(sameContent.sha256()).isEqualTo(anyGuid.sha256());
    assertThat(sameContent.records()).isEqualTo(anyGuid.records() - 8); // zero blocks are holes
    assertThat(digest(same + "@s2", false).sha256()).isNotEqualTo(digest(source, false).sha256());

    var byteChanged = b.path("z/byte").toString();
    replicate(source, byteChanged);
    try (var f = new RandomAccessFile(mountpoint(byteChanged).resolve("random").toFile(), "rw")) {
      f.seek(150_000);
      int old = f.read();
      f.seek(150_000);
      f.write(old ^ 1);
    }
    FusePools.run("sync");
    FusePools.run("zfs", "snapshot", byteChanged + "@s2");
    var changed = digest(byteChanged + "@s2", true);
    assertThat(changed.sha256()).isNotEqualTo(anyGuid.sha256());
    assertThat(changed.contentBytes()).isEqualTo(anyGuid.contentBytes());

    var modeChanged = b.path("z/mode").toString();
    replicate(source, modeChanged);
    Files.setPosixFilePermissions(
        mountpoint(modeChanged).resolve("small"), PosixFilePermissions.fromString("rw-------"));
    FusePools.run("sync");
    FusePools.run("zfs", "snapshot", modeChanged + "@s2");
    var chmodded = digest(modeChanged + "@s2", true);
    assertThat(chmodded.sha256()).isNotEqualTo(anyGuid.sha256()).isNotEqualTo(changed.sha256());
    assertThat(chmodded.records()).isEqualTo(anyGuid.records() - 8);
  }
}
