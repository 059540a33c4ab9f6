package dev.zrepl4j.bench;

import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.RealZfs;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Wall time of listing the versions of 1,000 filesystems x 10 snapshots on a zfs-fuse pool that the
 * benchmark creates (and destroys), plus the number of {@code zfs} processes one listing takes.
 *
 * <p>Run: {@code bench/run zfs} (needs zfs-fuse running: {@code scripts/zfs-fuse.sh up}). With
 * {@code -Dzrepl4j.bench.smoke=true} ({@code bench/run --smoke zfs}) it lists 20 x 2 instead.
 * Prints {@code zfs.list.1000fs <seconds> seconds} (median of 5 listings) and {@code
 * zfs.list.invocations <n> processes}.
 */
public final class ZfsBench {
  private ZfsBench() {}

  public static void main(String[] args) throws Exception {
    boolean smoke = Boolean.getBoolean("zrepl4j.bench.smoke");
    int filesystems = smoke ? 20 : 1000;
    int snapshots = smoke ? 2 : 10;
    int rounds = smoke ? 1 : 5;
    var dir = Path.of("/var/tmp/zrepl4j-bench");
    Files.createDirectories(dir);
    var pool = "zrepl4j-bench-" + UUID.randomUUID().toString().substring(0, 8);
    var img = dir.resolve(pool + ".img");
    try (var raf = new RandomAccessFile(img.toFile(), "rw")) {
      raf.setLength(1L << 30);
    }
    run(List.of("zpool", "create", "-m", "none", pool, img.toString()));
    try {
      var root = DatasetPath.parse(pool);
      var fss = new ArrayList<DatasetPath>();
      for (int i = 0; i < filesystems; i++) {
        fss.add(root.child("fs" + i));
      }
      createFilesystems(fss);
      for (int s = 0; s < snapshots; s++) {
        run(List.of("zfs", "snapshot", "-r", pool + "@s" + s));
      }
      var zfs = RealZfs.start(List.of("zfs"), List.of("zpool"));
      var listed = zfs.listFilesystems(List.of(root), p -> !p.equals(root));
      if (listed.size() != filesystems) {
        throw new IllegalStateException("listed " + listed.size() + " filesystems");
      }
      var seconds = new double[rounds];
      long invocations = 0;
      for (int r = 0; r < rounds; r++) {
        long before = zfs.invocations();
        long t0 = System.nanoTime();
        var versions = zfs.listVersions(listed);
        seconds[r] = (System.nanoTime() - t0) / 1e9;
        invocations = zfs.invocations() - before;
        long n = versions.values().stream().mapToLong(List::size).sum();
        if (n != (long) filesystems * snapshots) {
          throw new IllegalStateException("listed " + n + " versions");
        }
      }
      Arrays.sort(seconds);
      System.out.printf(Locale.ROOT, "zfs.list.1000fs %.3f seconds%n", seconds[rounds / 2]);
      System.out.printf(Locale.ROOT, "zfs.list.invocations %d processes%n", invocations);
    } finally {
      run(List.of("zpool", "destroy", "-f", pool));
      Files.deleteIfExists(img);
    }
  }

  private static void createFilesystems(List<DatasetPath> fss) throws IOException {
    int parallel = 4;
    var futures = new ArrayList<Future<?>>();
    try (var ex = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int t = 0; t < parallel; t++) {
        var argv =
            new ArrayList<>(
                List.of(
                    "sh",
                    "-c",
                    "for d in \"$@\"; do zfs create -o mountpoint=none \"$d\" || exit 1; done",
                    "sh"));
        for (int i = t; i < fss.size(); i += parallel) {
          argv.add(fss.get(i).toString());
        }
        futures.add(
            ex.submit(
                () -> {
                  run(argv);
                  return null;
                }));
      }
      for (var f : futures) {
        try {
          f.get();
        } catch (ExecutionException e) {
          throw new IOException("creating filesystems failed", e.getCause());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new InterruptedIOException("interrupted");
        }
      }
    }
  }

  private static void run(List<String> argv) throws IOException {
    var p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    var out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      if (p.waitFor() != 0) {
        throw new IOException(argv.subList(0, Math.min(4, argv.size())) + " failed: " + out);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
      throw new InterruptedIOException("interrupted running " + argv.getFirst());
    }
  }
}
