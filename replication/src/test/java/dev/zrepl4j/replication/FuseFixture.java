package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.fail;

import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import dev.zrepl4j.zfs.RealZfs;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Test support (adapted from the zfs module's FusePools): a uniquely named zfs-fuse pool on a
 * sparse file under {@code /var/tmp/zrepl4j-it/}, destroyed with its file on close. If zfs-fuse
 * does not answer, the test fails: integration tests never pass by not running ({@code
 * scripts/zfs-fuse.sh up} starts it).
 */
public final class FuseFixture implements AutoCloseable {
  public static final Path DIR = Path.of("/var/tmp/zrepl4j-it");

  public final String name;
  public final Path file;
  public final Path mountpoint;
  public final RealZfs zfs;

  private FuseFixture(String name, Path file, Path mountpoint, RealZfs zfs) {
    this.name = name;
    this.file = file;
    this.mountpoint = mountpoint;
    this.zfs = zfs;
  }

  /** The zfs-fuse {@link RealZfs}; fails the test if zfs-fuse is not running. */
  public static RealZfs zfs() {
    try {
      var z = RealZfs.start(List.of("zfs"), List.of("zpool"));
      run("zpool", "list", "-H", "-o", "name");
      return z;
    } catch (IOException e) {
      return fail(
          "zfs-fuse is not available ("
              + e.getMessage()
              + "); run `scripts/zfs-fuse.sh up` (scripts/test.sh does)",
          e);
    }
  }

  /** Creates pool {@code zrepl4j-it-<tag>-<random>} of {@code mib} MiB. */
  public static FuseFixture create(String tag, int mib) throws IOException {
    var z = zfs();
    Files.createDirectories(DIR);
    var name = "zrepl4j-it-" + tag + "-" + UUID.randomUUID().toString().substring(0, 8);
    var file = DIR.resolve(name + ".img");
    var mnt = DIR.resolve("mnt").resolve(name);
    try (var raf = new RandomAccessFile(file.toFile(), "rw")) {
      raf.setLength((long) mib << 20);
    }
    run("zpool", "create", "-m", mnt.toString(), name, file.toString());
    return new FuseFixture(name, file, mnt, z);
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
      throw new java.io.InterruptedIOException();
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

  private static void sleep() throws IOException {
    try {
      Thread.sleep(250);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException();
    }
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
          if (i >= 60 || !String.valueOf(e.getMessage()).contains("busy")) {
            throw e;
          }
          sleep();
        }
      }
    } finally {
      Files.deleteIfExists(file);
    }
  }
}
