package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Test support for the OpenZFS 2.x guest of {@code scripts/zfs-guest.sh}, reached through the
 * environment that {@code zfs-guest.sh env} prints (scripts/test.sh evaluates it before {@code mvn
 * verify}):
 *
 * <ul>
 *   <li>{@code ZREPL4J_GUEST_ZFS}, {@code ZREPL4J_GUEST_ZPOOL}: wrappers that run {@code zfs} /
 *       {@code zpool} in the guest, streaming stdin/stdout/stderr and returning the exit status;
 *   <li>{@code ZREPL4J_GUEST_EXEC}: runs any command in the guest;
 *   <li>{@code ZREPL4J_GUEST_DISKS}: the guest's blank disks for test pools, space-separated.
 * </ul>
 *
 * <p>Without that environment every guest test fails with a message saying how to start the guest:
 * these tests are not optional (STYLE.md §11).
 *
 * <p>The one implementation of the guest fixture: the zfs module publishes it in its test jar, and
 * the other modules' tests use it (the replication module's {@code GuestFixture} is a thin adapter
 * over it).
 */
public final class GuestZfs {

  public static final String ENV_ZFS = "ZREPL4J_GUEST_ZFS";
  public static final String ENV_ZPOOL = "ZREPL4J_GUEST_ZPOOL";
  public static final String ENV_EXEC = "ZREPL4J_GUEST_EXEC";
  public static final String ENV_DISKS = "ZREPL4J_GUEST_DISKS";

  private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(120);

  private final Path zfs;
  private final Path zpool;
  private final Path exec;
  private final List<String> disks;

  private GuestZfs(Path zfs, Path zpool, Path exec, List<String> disks) {
    this.zfs = zfs;
    this.zpool = zpool;
    this.exec = exec;
    this.disks = disks;
  }

  /** The guest named by the environment; fails the calling test (never skips) if it is missing. */
  public static GuestZfs fromEnvironment() {
    var zfs = executable(ENV_ZFS);
    var zpool = executable(ENV_ZPOOL);
    var exec = executable(ENV_EXEC);
    var disksValue = System.getenv(ENV_DISKS);
    if (disksValue == null || disksValue.isBlank()) {
      fail(missing(ENV_DISKS + " is not set"));
    }
    var guest = new GuestZfs(zfs, zpool, exec, List.of(disksValue.trim().split("\\s+")));
    var probe =
        guest.run(List.of(exec.toString(), "test", "-e", "/dev/zfs"), null, DEFAULT_TIMEOUT);
    if (probe.status() != 0) {
      fail(
          missing(
              "the guest does not answer (status "
                  + probe.status()
                  + ", stderr: "
                  + probe.stderr().strip()
                  + ")"));
    }
    return guest;
  }

  private static Path executable(String name) {
    var value = System.getenv(name);
    if (value == null || value.isBlank()) {
      fail(missing(name + " is not set"));
    }
    var path = Path.of(value);
    if (!Files.isExecutable(path)) {
      fail(missing(name + "=" + value + " is not an executable file"));
    }
    return path;
  }

  private static String missing(String what) {
    return "OpenZFS guest not available: "
        + what
        + ". The guest integration tests need the OpenZFS 2.x guest: run `scripts/zfs-guest.sh start"
        + " && eval \"$(scripts/zfs-guest.sh env)\"` before `mvn verify` (scripts/test.sh does"
        + " this).";
  }

  /** argv prefix that runs {@code zfs} in the guest (for the CLI implementation's binary). */
  public List<String> zfsArgv() {
    return List.of(zfs.toString());
  }

  /** argv prefix that runs {@code zpool} in the guest. */
  public List<String> zpoolArgv() {
    return List.of(zpool.toString());
  }

  /** argv prefix that runs a command in the guest. */
  public List<String> execArgv() {
    return List.of(exec.toString());
  }

  public List<String> disks() {
    return disks;
  }

  /** A {@link RealZfs} whose {@code zfs}/{@code zpool} run in the guest. */
  public RealZfs realZfs() throws IOException {
    return RealZfs.start(zfsArgv(), zpoolArgv());
  }

  /** Outcome of a finished command. */
  public record Result(List<String> argv, int status, byte[] stdout, String stderr) {
    public String out() {
      return new String(stdout, StandardCharsets.UTF_8);
    }

    /** stdout, after asserting a zero exit status. */
    public String ok() {
      requireZeroExit(argv, status, stderr);
      return out();
    }

    @Override
    public String toString() {
      return argv + " -> " + status + " stderr=" + stderr.strip();
    }
  }

  /** Fails the test, naming the command and its stderr, unless {@code status} is zero. */
  public static void requireZeroExit(List<String> argv, int status, String stderr) {
    if (status != 0) {
      fail("`" + String.join(" ", argv) + "` exited " + status + ": " + stderr.strip());
    }
  }

  public Result zfs(String... args) {
    return run(concat(zfs, args), null, DEFAULT_TIMEOUT);
  }

  public Result zpool(String... args) {
    return run(concat(zpool, args), null, DEFAULT_TIMEOUT);
  }

  public Result exec(String... args) {
    return run(concat(exec, args), null, DEFAULT_TIMEOUT);
  }

  /** {@code sh -c script} in the guest; fails the test on a non-zero exit; returns stdout. */
  public String sh(String script) {
    return exec("sh", "-c", script).ok();
  }

  /** {@code sh -c script} in the guest with its own deadline; fails the test on a non-zero exit. */
  public String sh(Duration timeout, String script) {
    return run(concat(exec, "sh", "-c", script), null, timeout).ok();
  }

  /** Runs {@code zfs args} in the guest, feeding it {@code stdin}. */
  public Result zfsWithInput(byte[] stdin, String... args) {
    return run(concat(zfs, args), stdin, DEFAULT_TIMEOUT);
  }

  /** Runs {@code exec args} in the guest, feeding it {@code stdin}. */
  public Result execWithInput(byte[] stdin, String... args) {
    return run(concat(exec, args), stdin, DEFAULT_TIMEOUT);
  }

  private static List<String> concat(Path first, String... rest) {
    var argv = new ArrayList<String>(rest.length + 1);
    argv.add(first.toString());
    argv.addAll(Arrays.asList(rest));
    return argv;
  }

  /**
   * Runs {@code argv} on the host, writes {@code stdin} (then closes it; no stdin: closed at once)
   * and collects stdout and stderr; destroys the process after {@code timeout}.
   */
  public Result run(List<String> argv, byte[] stdin, Duration timeout) {
    try {
      var process = new ProcessBuilder(argv).start();
      var out = drain(process.getInputStream());
      var err = drain(process.getErrorStream());
      var in =
          async(
              () -> {
                try (OutputStream o = process.getOutputStream()) {
                  if (stdin != null) {
                    o.write(stdin);
                  }
                } catch (IOException e) {
                  // the command did not read all of its input; its status tells why
                }
                return null;
              });
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly().waitFor();
        fail("`" + String.join(" ", argv) + "` did not finish within " + timeout);
      }
      in.join();
      return new Result(
          List.copyOf(argv),
          process.exitValue(),
          out.join(),
          new String(err.join(), StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * Runs {@code task} on its own thread (not the common pool: on a 2-core machine it has one
   * worker, and a blocked pipe reader there would starve the writer).
   */
  public static <T> CompletableFuture<T> async(Supplier<T> task) {
    var future = new CompletableFuture<T>();
    Thread.ofPlatform()
        .daemon()
        .name("guest-io")
        .start(
            () -> {
              try {
                future.complete(task.get());
              } catch (Throwable t) {
                future.completeExceptionally(t);
              }
            });
    return future;
  }

  public static CompletableFuture<byte[]> drain(InputStream in) {
    return async(
        () -> {
          try (in) {
            var buffer = new ByteArrayOutputStream();
            in.transferTo(buffer);
            return buffer.toByteArray();
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        });
  }

  // ------------------------------------------------------------------------------------- pools

  /**
   * Creates pool {@code name} on the first guest disk that no imported pool uses, after destroying
   * a leftover pool of the same name (an aborted earlier run on the same guest). Mounted at {@code
   * /name}; ashift 12, no compression (stream sizes stay predictable).
   */
  public String createPool(String name, String... extraArgs) {
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
    var argv = new ArrayList<String>();
    argv.addAll(List.of("create", "-f", "-o", "ashift=12", "-O", "mountpoint=/" + name));
    argv.addAll(Arrays.asList(extraArgs));
    argv.add(name);
    argv.add(disk);
    zpool(argv.toArray(String[]::new)).ok();
    return name;
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

  /** sha256 of the files under {@code dir} in the guest (names relative, sorted). */
  public String checksums(String dir) {
    return sh("cd '" + dir + "' && find . -type f | LC_ALL=C sort | xargs -r sha256sum");
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

  // -------------------------------------------------------------------------------- properties

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

  /** Whether {@code dataset} exists ({@code zfs list}). */
  public boolean exists(String dataset) {
    return zfs("list", "-H", "-o", "name", dataset).status() == 0;
  }
}
