package dev.zrepl4j.replication;

import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import dev.zrepl4j.zfs.FusePools;
import dev.zrepl4j.zfs.RealZfs;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Test support: a uniquely named zfs-fuse pool, destroyed with its file on close. The name the
 * replication and daemon tests use for the zfs module's {@link FusePools} (from its test jar),
 * which holds the implementation; every method here delegates to it.
 */
public final class FuseFixture implements AutoCloseable {
  public static final Path DIR = FusePools.DIR;

  /** The pool this fixture names. */
  public final FusePools pool;

  public final String name;
  public final Path file;
  public final Path mountpoint;
  public final RealZfs zfs;

  private FuseFixture(FusePools pool) {
    this.pool = pool;
    this.name = pool.name;
    this.file = pool.file;
    this.mountpoint = pool.mountpoint;
    this.zfs = pool.zfs;
  }

  /** The zfs-fuse {@link RealZfs}; fails the test if zfs-fuse is not running. */
  public static RealZfs zfs() {
    return FusePools.zfs();
  }

  /** Creates pool {@code zrepl4j-it-<tag>-<random>} of {@code mib} MiB. */
  public static FuseFixture create(String tag, int mib) throws IOException {
    return new FuseFixture(FusePools.create(tag, mib));
  }

  public DatasetPath root() {
    return pool.root();
  }

  public DatasetPath path(String relative) {
    return pool.path(relative);
  }

  /** Where {@code relative} is mounted by default. */
  public Path mounted(String relative) {
    return pool.mounted(relative);
  }

  /** Runs a command, returns stdout; fails with its output on a non-zero exit. */
  public static String run(String... argv) throws IOException {
    return FusePools.run(argv);
  }

  /** {@code zfs get -H -o value prop ds}. */
  public static String prop(String dataset, String prop) throws IOException {
    return FusePools.prop(dataset, prop);
  }

  /** The versions of one filesystem, with userrefs. */
  public List<FilesystemVersion> versions(DatasetPath fs) throws IOException {
    return pool.versions(fs);
  }

  /** The names of the snapshots of one filesystem, oldest first. */
  public List<String> snapshotNames(DatasetPath fs) throws IOException {
    return pool.snapshotNames(fs);
  }

  /** The userrefs of {@code fs@snap}. */
  public long userRefs(DatasetPath fs, String snap) throws IOException {
    return pool.userRefs(fs, snap);
  }

  /** Whether the dataset exists. */
  public boolean exists(DatasetPath fs) throws IOException {
    return pool.exists(fs);
  }

  /** See {@link FusePools#mountReadOnly}. */
  public Path mountReadOnly(DatasetPath fs) throws IOException {
    return pool.mountReadOnly(fs);
  }

  /** Unmounts a filesystem mounted by {@link #mountReadOnly}. */
  public static void unmount(DatasetPath fs) throws IOException {
    FusePools.unmount(fs);
  }

  @Override
  public void close() throws IOException {
    pool.close();
  }
}
