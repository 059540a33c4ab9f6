package dev.zrepl4j.cli;

import dev.zrepl4j.zfs.RealZfs;
import java.io.IOException;
import java.util.List;

/**
 * The {@code zfs}/{@code zpool} the commands use: the ones on PATH, or the executables named by
 * {@code ZREPL4J_ZFS} and {@code ZREPL4J_ZPOOL} (a wrapper, e.g. one that runs them through sudo or
 * in a test VM).
 */
final class HostZfs {
  private HostZfs() {}

  static RealZfs open() throws IOException {
    return RealZfs.start(
        List.of(env("ZREPL4J_ZFS", "zfs")), List.of(env("ZREPL4J_ZPOOL", "zpool")));
  }

  private static String env(String name, String fallback) {
    var v = System.getenv(name);
    return v == null || v.isBlank() ? fallback : v.strip();
  }
}
