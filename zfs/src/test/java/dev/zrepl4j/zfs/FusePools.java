package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;

/**
 * Test support: a uniquely named zfs-fuse pool on a sparse file under {@code /var/tmp/zrepl4j-it/},
 * destroyed with its file on close. If zfs-fuse does not answer, the test fails (in CI and locally
 * alike): integration tests never pass by not running. {@code scripts/zfs-fuse.sh up} (run by
 * scripts/test.sh) starts the daemon.
 */
final class FusePools implements AutoCloseable {
  static final Path DIR = Path.of("/var/tmp/zrepl4j-it");

  final String name;
  final Path file;
  final Path mountpoint;
  final RealZfs zfs;

  private FusePools(String name, Path file, Path mountpoint, RealZfs zfs) {
    this.name = name;
    this.file = file;
    this.mountpoint = mountpoint;
    this.zfs = zfs;
  }

  /** The zfs-fuse {@link RealZfs}; fails the test if zfs-fuse is not running. */
  static RealZfs zfs() {
    try {
      var z = RealZfs.start(List.of("zfs"), List.of("zpool"));
      z.zpool(List.of("list", "-H", "-o", "name"));
      return z;
    } catch (IOException e) {
      return fail(
          "zfs-fuse is not available ("
              + e.getMessage()
              + "); run `scripts/zfs-fuse.sh up` (scripts/test.sh does)"
              + ("true".equals(System.getenv("CI")) ? " [CI=true]" : ""),
          e);
    }
  }

  /** Creates pool {@code zrepl4j-it-<tag>-<random>} of {@code size} (e.g. "128M"). */
  static FusePools create(String tag, String size) throws IOException {
    var z = zfs();
    Files.createDirectories(DIR);
    var name = "zrepl4j-it-" + tag + "-" + UUID.randomUUID().toString().substring(0, 8);
    var file = DIR.resolve(name + ".img");
    var mnt = DIR.resolve("mnt").resolve(name);
    try (var raf = new java.io.RandomAccessFile(file.toFile(), "rw")) {
      raf.setLength(parseSize(size));
    }
    z.zpool(List.of("create", "-m", mnt.toString(), name, file.toString()));
    return new FusePools(name, file, mnt, z);
  }

  private static long parseSize(String s) {
    long mult =
        switch (s.charAt(s.length() - 1)) {
          case 'M' -> 1L << 20;
          case 'G' -> 1L << 30;
          default -> throw new IllegalArgumentException(s);
        };
    return Long.parseLong(s.substring(0, s.length() - 1)) * mult;
  }

  DatasetPath root() {
    return DatasetPath.parse(name);
  }

  DatasetPath path(String relative) {
    return DatasetPath.parse(name + "/" + relative);
  }

  /** Where {@code relative} is mounted. */
  Path mounted(String relative) {
    return mountpoint.resolve(relative);
  }

  @Override
  public void close() throws IOException {
    try {
      // zfs-fuse may still be busy (asynchronous clean-up of a killed receive): retry briefly
      for (int i = 0; ; i++) {
        try {
          zfs.zpool(List.of("destroy", "-f", name));
          break;
        } catch (ZfsException e) {
          if (i >= 20 || !e.getMessage().contains("busy")) {
            throw e;
          }
          try {
            Thread.sleep(250);
          } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while destroying " + name);
          }
        }
      }
    } finally {
      Files.deleteIfExists(file);
    }
  }
}
