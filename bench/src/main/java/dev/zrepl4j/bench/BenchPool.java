package dev.zrepl4j.bench;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

/** A zfs-fuse pool on a sparse file, mounted below the benchmark's directory. */
final class BenchPool implements AutoCloseable {
  private static final long MIB = 1L << 20;

  final String name;
  final Path file;
  final Path mountpoint;

  BenchPool(String name, Path dir, long mib) throws IOException {
    this.name = name;
    this.file = dir.resolve(name + ".img");
    this.mountpoint = dir.resolve("mnt").resolve(name);
    Files.createDirectories(dir);
    try (var raf = new RandomAccessFile(file.toFile(), "rw")) {
      raf.setLength(mib * MIB);
    }
    try {
      Shell.run("zpool", "create", "-m", mountpoint.toString(), name, file.toString());
    } catch (IOException e) {
      Files.deleteIfExists(file);
      throw e;
    }
  }

  /** Destroys the pool (retrying while zfs-fuse reports it busy) and deletes its file. */
  @Override
  public void close() throws IOException, InterruptedException {
    try {
      for (int i = 0; ; i++) {
        try {
          Shell.run("zpool", "destroy", "-f", name);
          break;
        } catch (IOException e) {
          if (!String.valueOf(e.getMessage()).contains("busy")) {
            throw e;
          }
          if (i >= 60) {
            // seen after 1,000 filesystems: zfs-fuse kept the pool busy for good
            throw new IOException(
                String.valueOf(e.getMessage()).strip()
                    + " (after 60 s; zfs-fuse keeps it busy: pkill -x zfs-fuse; rm -f"
                    + " /var/lib/zfs/zpool.cache; scripts/zfs-fuse.sh up; rm "
                    + file
                    + ")",
                e);
          }
          Thread.sleep(1000);
        }
      }
    } finally {
      Files.deleteIfExists(file);
      new File(mountpoint.toString()).delete();
    }
  }
}
