package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Test support: a uniquely named zfs-fuse pool on a sparse file under {@code /var/tmp/zrepl4j-it/},
 * destroyed with its file on close. If zfs-fuse does not answer, the test fails (in CI and locally
 * alike): integration tests never pass by not running. {@code scripts/zfs-fuse.sh up} (run by
 * scripts/test.sh) starts the daemon.
 *
 * <p>The one implementation of the zfs-fuse fixture: the zfs module publishes it in its test jar,
 * and the other modules' tests use it (the replication module's {@code FuseFixture} is a thin
 * adapter over it).
 */
public final class FusePools implements AutoCloseable {
  public static final Path DIR = Path.of("/var/tmp/zrepl4j-it");

  /** How often {@link #close} tries again while zfs-fuse reports the pool busy (every 250 ms). */
  private static final int BUSY_RETRIES = 60;

  public final String name;
  public final Path file;
  public final Path mountpoint;
  public final RealZfs zfs;

  private FusePools(String name, Path file, Path mountpoint, RealZfs zfs) {
    this.name = name;
    this.file = file;
    this.mountpoint = mountpoint;
    this.zfs = zfs;
  }

  /** The zfs-fuse {@link RealZfs}; fails the test if zfs-fuse is not running. */
  public static RealZfs zfs() {
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

  /** Creates pool {@code zrepl4j-it-<tag>-<random>} of {@code size} (e.g. "128M", "1G"). */
  public static FusePools create(String tag, String size) throws IOException {
    return create(tag, parseSize(size));
  }

  /** Creates pool {@code zrepl4j-it-<tag>-<random>} of {@code mib} MiB. */
  public static FusePools create(String tag, int mib) throws IOException {
    return create(tag, (long) mib << 20);
  }

  private static FusePools create(String tag, long bytes) throws IOException {
    var z = zfs();
    Files.createDirectories(DIR);
    var name = "zrepl4j-it-" + tag + "-" + UUID.randomUUID().toString().substring(0, 8);
    var file = DIR.resolve(name + ".img");
    var mnt = DIR.resolve("mnt").resolve(name);
    try (var raf = new RandomAccessFile(file.toFile(), "rw")) {
      raf.setLength(bytes);
    }
    run("zpool", "create", "-m", mnt.toString(), name, file.toString());
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

  public DatasetPath root() {
    return DatasetPath.parse(name);
  }

  public DatasetPath path(String relative) {
    return DatasetPath.parse(name + "/" + relative);
  }

  /** Where {@code relative} is mounted by default. */
  public Path mounted(String relative) {
    return mountpoint.resolve(relative);
  }

  /** Runs a command, returns stdout; fails with its output on a non-zero exit. */
  public static String run(String... argv) throws IOException {
    var p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    var out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      if (p.waitFor() != 0) {
        throw new IOException(String.join(" ", argv) + " failed: " + out);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException();
    }
    return out;
  }

  /** {@code zfs get -H -o value prop ds}. */
  public static String prop(String dataset, String prop) throws IOException {
    return run("zfs", "get", "-H", "-o", "value", prop, dataset).strip();
  }

  /** The versions of one filesystem, with userrefs. */
  public List<FilesystemVersion> versions(DatasetPath fs) throws IOException {
    return new ArrayList<>(zfs.listVersions(List.of(fs)).get(fs));
  }

  /** The names of the snapshots of one filesystem, oldest first. */
  public List<String> snapshotNames(DatasetPath fs) throws IOException {
    return zfs.listVersions(List.of(fs)).get(fs).stream()
        .filter(FilesystemVersion::isSnapshot)
        .map(FilesystemVersion::name)
        .toList();
  }

  /** The userrefs of {@code fs@snap}. */
  public long userRefs(DatasetPath fs, String snap) throws IOException {
    for (var v : versions(fs)) {
      if (v.isSnapshot() && v.name().equals(snap)) {
        return v.userRefs();
      }
    }
    throw new AssertionError(fs + "@" + snap + " does not exist");
  }

  /** Whether the dataset exists. */
  public boolean exists(DatasetPath fs) throws IOException {
    return zfs.listFilesystems(List.of(root()), p -> p.equals(fs)).contains(fs);
  }

  /**
   * Mounts a received (unmounted) filesystem read-only at a fresh directory (readonly keeps atime
   * updates from modifying it, so later incremental receives still apply) and returns the
   * directory.
   */
  public Path mountReadOnly(DatasetPath fs) throws IOException {
    var dir = DIR.resolve("ro").resolve(UUID.randomUUID().toString().substring(0, 8));
    Files.createDirectories(dir);
    run("zfs", "set", "readonly=on", fs.toString());
    run("zfs", "set", "mountpoint=" + dir, fs.toString());
    if (!prop(fs.toString(), "mounted").equals("yes")) {
      run("zfs", "mount", fs.toString());
    }
    return dir;
  }

  /** Unmounts a filesystem mounted by {@link #mountReadOnly}. */
  public static void unmount(DatasetPath fs) throws IOException {
    run("zfs", "umount", fs.toString());
  }

  @Override
  public void close() throws IOException {
    try {
      // zfs-fuse may still be busy (asynchronous clean-up of a failed or killed receive, right
      // after a receive): retry for up to 15 s
      for (int i = 0; ; i++) {
        try {
          run("zpool", "destroy", "-f", name);
          break;
        } catch (IOException e) {
          if (i >= BUSY_RETRIES || !String.valueOf(e.getMessage()).contains("busy")) {
            throw e;
          }
          try {
            Thread.sleep(250);
          } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while destroying " + name);
          }
        }
      }
    } finally {
      Files.deleteIfExists(file);
    }
  }
}
