package dev.zrepl4j.bench;

import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion.FullName;
import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import dev.zrepl4j.zfs.RealZfs;
import dev.zrepl4j.zfs.SendRequest;
import dev.zrepl4j.zfs.SendStreamDigest;
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
import java.util.Random;
import java.util.Set;
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
 * zfs.list.invocations <n> processes}; then {@code zfs.send.devnull} and {@code verify.digest}
 * (MiB/s, best of 5 alternating rounds: a full {@code zfs send} of 512 MiB of random data into
 * {@code /dev/null}, and the same send read through {@code zrepl4j verify}'s {@link
 * SendStreamDigest}) and their {@code verify.digest.ratio}.
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
      digest(zfs, root, dir.resolve("mnt-" + pool), smoke ? 16 : 512, rounds);
    } finally {
      run(List.of("zpool", "destroy", "-f", pool));
      Files.deleteIfExists(img);
    }
  }

  /**
   * {@code zrepl4j verify}'s content check against its floor: a full {@code zfs send} of a snapshot
   * of {@code mib} MiB of random data read through {@link SendStreamDigest} vs the same send into
   * {@code /dev/null}, alternating, best of {@code rounds} each.
   */
  private static void digest(RealZfs zfs, DatasetPath root, Path mnt, int mib, int rounds)
      throws IOException {
    var fs = root.child("digest");
    run(List.of("zfs", "create", "-o", "mountpoint=" + mnt, fs.toString()));
    var random = new Random(7);
    byte[] block = new byte[1 << 20];
    try (var out = Files.newOutputStream(mnt.resolve("data.bin"))) {
      for (int i = 0; i < mib; i++) {
        random.nextBytes(block);
        out.write(block);
      }
    }
    run(List.of("zfs", "snapshot", fs + "@d"));
    var snap = new FullName(fs, VersionType.SNAPSHOT, "d");
    double raw = 0;
    double digest = 0;
    String first = null;
    for (int r = 0; r <= rounds; r++) { // round 0 warms up
      long t0 = System.nanoTime();
      var p =
          new ProcessBuilder("zfs", "send", snap.toString())
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .redirectError(ProcessBuilder.Redirect.INHERIT)
              .start();
      try {
        if (p.waitFor() != 0) {
          throw new IOException("zfs send " + snap + " exited " + p.exitValue());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted");
      }
      double rawSeconds = (System.nanoTime() - t0) / 1e9;
      t0 = System.nanoTime();
      SendStreamDigest.Digest d;
      try (var stream = zfs.send(new SendRequest(null, snap, false, null, Set.of()))) {
        d = SendStreamDigest.of(stream);
      }
      double digestSeconds = (System.nanoTime() - t0) / 1e9;
      if (first == null) {
        first = d.sha256();
      } else if (!first.equals(d.sha256())) {
        throw new IllegalStateException("the digest of " + snap + " changed between rounds");
      }
      if (r > 0) {
        raw = Math.max(raw, mib / rawSeconds);
        digest = Math.max(digest, mib / digestSeconds);
      }
    }
    System.out.printf(Locale.ROOT, "zfs.send.devnull %.1f MiB/s%n", raw);
    System.out.printf(Locale.ROOT, "verify.digest %.1f MiB/s%n", digest);
    System.out.printf(Locale.ROOT, "verify.digest.ratio %.3f ratio%n", digest / raw);
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
