package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.fail;

import dev.zrepl4j.zfs.RealZfs;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Test support (adapted from the zfs module's GuestZfs): the OpenZFS 2.x guest of {@code
 * scripts/zfs-guest.sh}, reached through the environment that {@code zfs-guest.sh env} prints
 * ({@code ZREPL4J_GUEST_ZFS}, {@code ZREPL4J_GUEST_ZPOOL}, {@code ZREPL4J_GUEST_EXEC}, {@code
 * ZREPL4J_GUEST_DISKS}). Without it the calling test fails, saying how to start the guest: these
 * tests are not optional (STYLE.md §11).
 */
public final class GuestFixture {
  private static final long TIMEOUT_SECONDS = 120;

  private final String zfs;
  private final String zpool;
  private final String exec;
  private final List<String> disks;

  private GuestFixture(String zfs, String zpool, String exec, List<String> disks) {
    this.zfs = zfs;
    this.zpool = zpool;
    this.exec = exec;
    this.disks = disks;
  }

  /** The guest named by the environment; fails (never skips) if it is missing or silent. */
  public static GuestFixture fromEnvironment() {
    var disks = System.getenv("ZREPL4J_GUEST_DISKS");
    if (disks == null || disks.isBlank()) {
      fail(missing("ZREPL4J_GUEST_DISKS is not set"));
    }
    var g =
        new GuestFixture(
            executable("ZREPL4J_GUEST_ZFS"),
            executable("ZREPL4J_GUEST_ZPOOL"),
            executable("ZREPL4J_GUEST_EXEC"),
            List.of(disks.trim().split("\\s+")));
    var probe = g.exec("test", "-e", "/dev/zfs");
    if (probe.status() != 0) {
      fail(missing("the guest does not answer (" + probe + ")"));
    }
    return g;
  }

  private static String executable(String name) {
    var value = System.getenv(name);
    if (value == null || value.isBlank()) {
      fail(missing(name + " is not set"));
    }
    if (!Files.isExecutable(Path.of(value))) {
      fail(missing(name + "=" + value + " is not an executable file"));
    }
    return value;
  }

  private static String missing(String what) {
    return "OpenZFS guest not available: "
        + what
        + ". Run `scripts/zfs-guest.sh start && eval \"$(scripts/zfs-guest.sh env)\"` before `mvn"
        + " verify` (scripts/test.sh does this).";
  }

  /** A {@link RealZfs} whose {@code zfs}/{@code zpool} run in the guest. */
  public RealZfs realZfs() throws IOException {
    return RealZfs.start(List.of(zfs), List.of(zpool));
  }

  /** Outcome of a finished command. */
  public record Result(List<String> argv, int status, String out, String err) {
    /** stdout, after asserting a zero exit status. */
    public String ok() {
      if (status != 0) {
        fail("`" + String.join(" ", argv) + "` exited " + status + ": " + err.strip());
      }
      return out;
    }
  }

  public Result zfs(String... args) {
    return run(zfs, args);
  }

  public Result zpool(String... args) {
    return run(zpool, args);
  }

  public Result exec(String... args) {
    return run(exec, args);
  }

  /** {@code sh -c script} in the guest; fails the test on a non-zero exit; returns stdout. */
  public String sh(String script) {
    return exec("sh", "-c", script).ok();
  }

  private static Result run(String first, String... rest) {
    var argv = new ArrayList<String>();
    argv.add(first);
    argv.addAll(Arrays.asList(rest));
    try {
      var p = new ProcessBuilder(argv).start();
      p.getOutputStream().close();
      var out = drain(p.getInputStream());
      var err = drain(p.getErrorStream());
      if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor();
        fail("`" + String.join(" ", argv) + "` did not finish within " + TIMEOUT_SECONDS + " s");
      }
      return new Result(List.copyOf(argv), p.exitValue(), out.join(), err.join());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Reads a pipe on its own platform thread (a blocked reader must not starve the other). */
  private static CompletableFuture<String> drain(InputStream in) {
    var f = new CompletableFuture<String>();
    Thread.ofPlatform()
        .daemon()
        .name("guest-io")
        .start(
            () -> {
              try (in) {
                var b = new ByteArrayOutputStream();
                in.transferTo(b);
                f.complete(b.toString(StandardCharsets.UTF_8));
              } catch (IOException e) {
                f.completeExceptionally(e);
              }
            });
    return f;
  }

  // ------------------------------------------------------------------------------------- pools

  /**
   * Creates pool {@code name} (mounted at {@code /name}) on a guest disk no imported pool uses,
   * after destroying a leftover pool of that name from an aborted run.
   */
  public void createPool(String name) {
    destroyPoolIfExists(name);
    var used = zpool("list", "-vHP").ok();
    var disk =
        disks.stream()
            .filter(d -> !used.contains(d + "-part") && !used.contains(d + "\t"))
            .findFirst()
            .orElseThrow(
                () ->
                    new AssertionError(
                        "no free guest disk among " + disks + "; imported pools:\n" + used));
    zpool("create", "-f", "-o", "ashift=12", "-O", "mountpoint=/" + name, name, disk).ok();
  }

  public void destroyPoolIfExists(String name) {
    if (zpool("list", "-H", "-o", "name", name).status() == 0) {
      zpool("destroy", "-f", name).ok();
    }
  }

  /** Writes {@code megabytes} MiB of random data to {@code path} in the guest. */
  public void writeRandom(String path, int megabytes) {
    sh("dd if=/dev/urandom of='" + path + "' bs=1M count=" + megabytes + " status=none && sync");
  }

  /**
   * sha256 of every file in snapshot {@code fs@snap} (names relative, sorted), read through a
   * read-only mount of the snapshot (works whatever the filesystem's mountpoint, e.g. below a
   * placeholder with {@code mountpoint=none}).
   */
  public String snapshotChecksums(String snapshot) {
    var dir = "/mnt/zrepl4j-" + Integer.toHexString(snapshot.hashCode());
    return sh(
        "set -e; mkdir -p "
            + dir
            + "; mount -t zfs -o ro '"
            + snapshot
            + "' "
            + dir
            + "; trap 'umount "
            + dir
            + "; rmdir "
            + dir
            + "' EXIT; (cd "
            + dir
            + " && find . -type f | LC_ALL=C sort | xargs -r sha256sum)");
  }

  /** One property's value ({@code zfs get -H -p -o value}). */
  public String prop(String dataset, String property) {
    return zfs("get", "-H", "-p", "-o", "value", property, dataset).ok().strip();
  }

  /** The hold tags on a snapshot ({@code zfs holds -H}). */
  public List<String> holds(String snapshot) {
    return zfs("holds", "-H", snapshot)
        .ok()
        .lines()
        .filter(l -> !l.isBlank())
        .map(l -> l.split("\t")[1])
        .toList();
  }

  /**
   * The names of a filesystem's snapshots and bookmarks, in creation order ({@code @x}, {@code
   * #y}).
   */
  public List<String> versions(String fs) {
    return zfs(
            "list", "-H", "-o", "name", "-t", "snapshot,bookmark", "-s", "createtxg", "-d", "1", fs)
        .ok()
        .lines()
        .filter(l -> !l.isBlank())
        .map(l -> l.substring(fs.length()))
        .toList();
  }

  public boolean exists(String dataset) {
    return zfs("list", "-H", "-o", "name", dataset).status() == 0;
  }
}
