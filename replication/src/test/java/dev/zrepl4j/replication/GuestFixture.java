package dev.zrepl4j.replication;

import dev.zrepl4j.zfs.GuestZfs;
import dev.zrepl4j.zfs.RealZfs;
import java.io.IOException;
import java.util.List;

/**
 * Test support: the OpenZFS 2.x guest of {@code scripts/zfs-guest.sh}. The name the replication and
 * daemon tests use for the zfs module's {@link GuestZfs} (from its test jar), which holds the
 * implementation and documents the environment it needs; every method here delegates to it. Without
 * that environment the calling test fails, saying how to start the guest: these tests are not
 * optional (STYLE.md §11).
 */
public final class GuestFixture {
  /** The guest this fixture names. */
  public final GuestZfs guest;

  private GuestFixture(GuestZfs guest) {
    this.guest = guest;
  }

  /** The guest named by the environment; fails (never skips) if it is missing or silent. */
  public static GuestFixture fromEnvironment() {
    return new GuestFixture(GuestZfs.fromEnvironment());
  }

  /** A {@link RealZfs} whose {@code zfs}/{@code zpool} run in the guest. */
  public RealZfs realZfs() throws IOException {
    return guest.realZfs();
  }

  /** Outcome of a finished command, its output decoded as UTF-8. */
  public record Result(List<String> argv, int status, String out, String err) {
    static Result of(GuestZfs.Result r) {
      return new Result(r.argv(), r.status(), r.out(), r.stderr());
    }

    /** stdout, after asserting a zero exit status. */
    public String ok() {
      GuestZfs.requireZeroExit(argv, status, err);
      return out;
    }
  }

  public Result zfs(String... args) {
    return Result.of(guest.zfs(args));
  }

  public Result zpool(String... args) {
    return Result.of(guest.zpool(args));
  }

  public Result exec(String... args) {
    return Result.of(guest.exec(args));
  }

  /** {@code sh -c script} in the guest; fails the test on a non-zero exit; returns stdout. */
  public String sh(String script) {
    return guest.sh(script);
  }

  /**
   * Creates pool {@code name} (mounted at {@code /name}) on a guest disk no imported pool uses,
   * after destroying a leftover pool of that name from an aborted run.
   */
  public void createPool(String name) {
    guest.createPool(name);
  }

  public void destroyPoolIfExists(String name) {
    guest.destroyPoolIfExists(name);
  }

  /** Writes {@code megabytes} MiB of random data to {@code path} in the guest. */
  public void writeRandom(String path, int megabytes) {
    guest.writeRandom(path, megabytes);
  }

  /** See {@link GuestZfs#snapshotChecksums}. */
  public String snapshotChecksums(String snapshot) {
    return guest.snapshotChecksums(snapshot);
  }

  /** One property's value ({@code zfs get -H -p -o value}). */
  public String prop(String dataset, String property) {
    return guest.prop(dataset, property);
  }

  /** The hold tags on a snapshot ({@code zfs holds -H}). */
  public List<String> holds(String snapshot) {
    return guest.holds(snapshot);
  }

  /** See {@link GuestZfs#versions}. */
  public List<String> versions(String fs) {
    return guest.versions(fs);
  }

  public boolean exists(String dataset) {
    return guest.exists(dataset);
  }
}
