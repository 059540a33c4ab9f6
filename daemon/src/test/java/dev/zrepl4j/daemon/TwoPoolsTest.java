package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.replication.FuseFixture;
import dev.zrepl4j.replication.Trees;
import dev.zrepl4j.zfs.DatasetPath;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the daemon integration tests share: a source pool with a tree {@code data}, {@code data/a},
 * {@code data/a/b} (files in each) and {@code other}, a destination pool with {@code sink}, both on
 * zfs-fuse; the daemons' {@code global:} section; and the checks of what arrived.
 */
abstract class TwoPoolsTest {
  @TempDir Path dir;
  FuseFixture src;
  FuseFixture dst;
  private final String tag;

  /**
   * @param tag the pools' tag, unique per test class (pools are named zrepl4j-it-TAG…)
   */
  TwoPoolsTest(String tag) {
    this.tag = tag;
  }

  @BeforeEach
  void pools() throws IOException {
    src = FuseFixture.create(tag + "src", 768);
    dst = FuseFixture.create(tag + "dst", 768);
    for (var fs : List.of("data", "data/a", "data/a/b", "other")) {
      FuseFixture.run("zfs", "create", src.path(fs).toString());
    }
    FuseFixture.run("zfs", "create", dst.path("sink").toString());
    Trees.write(src.mounted("data").resolve("top.bin"), 1, 300_000);
    Trees.write(src.mounted("data/a").resolve("a.bin"), 2, 200_000);
    Trees.write(src.mounted("data/a/b").resolve("b.bin"), 3, 100_000);
    Trees.write(src.mounted("other").resolve("o.bin"), 4, 50_000);
  }

  @AfterEach
  void destroy() throws IOException {
    try (var s = src;
        var d = dst) {
      // closed in reverse order
    }
  }

  /** Ports handed out in this JVM: two calls never return the same port (the kernel may). */
  private static final java.util.Set<Integer> HANDED_OUT =
      java.util.concurrent.ConcurrentHashMap.newKeySet();

  static int freePort() throws IOException {
    while (true) {
      try (var s = new ServerSocket(0)) {
        if (HANDED_OUT.add(s.getLocalPort())) {
          return s.getLocalPort();
        }
      }
    }
  }

  /** The {@code global:} section of daemon {@code name}: info logs, its own runtime dirs. */
  String global(String name) {
    return """
        global:
          logging:
            - {type: stdout, level: info, format: human}
          control:
            sockpath: %s
          serve:
            stdinserver:
              sockdir: %s
        """
        .formatted(sock(name), dir.resolve(name + "-stdin"));
  }

  Path sock(String name) {
    return dir.resolve(name + "-run").resolve("control");
  }

  /**
   * The job {@code sink} (into {@code dst/sink}, served by {@code serve}) as an item of {@code
   * jobs:}.
   */
  String sinkJob(String serve) {
    return """
          - name: sink
            type: sink
            root_fs: %s
            serve: %s
        """
        .formatted(dst.path("sink"), serve);
  }

  /** A whole sink config: {@code global:} and the job {@code sink}. */
  String sinkConfig(String serve) {
    return global("sink") + "jobs:\n" + sinkJob(serve);
  }

  /** Where the sink puts {@code relative} (below the source's data) for client {@code id}. */
  DatasetPath received(String id, String relative) {
    return DatasetPath.parse(
        dst.path("sink")
            + "/"
            + id
            + "/"
            + src.path("data")
            + (relative.isEmpty() ? "" : "/" + relative));
  }

  /** The tree arrived for client {@code id} with the same files; {@code other} did not. */
  void assertReplicated(String id) throws IOException {
    for (var rel : List.of("", "a", "a/b")) {
      var fs = received(id, rel);
      var mnt = dst.mountReadOnly(fs);
      try {
        assertSameTopFiles(src.mounted(rel.isEmpty() ? "data" : "data/" + rel), mnt);
      } finally {
        FuseFixture.unmount(fs);
      }
    }
    assertThat(dst.exists(DatasetPath.parse(dst.path("sink") + "/" + id + "/" + src.path("other"))))
        .as("'other' is not in the push filter")
        .isFalse();
  }

  /**
   * The files directly in {@code expected} (not in child datasets mounted below it) are in {@code
   * actual} with the same bytes.
   */
  static void assertSameTopFiles(Path expected, Path actual) throws IOException {
    try (var files = Files.list(expected)) {
      var names =
          files.filter(Files::isRegularFile).map(p -> p.getFileName().toString()).sorted().toList();
      assertThat(names).isNotEmpty();
      for (var n : names) {
        assertThat(Files.mismatch(expected.resolve(n), actual.resolve(n)))
            .as("%s vs %s", expected.resolve(n), actual.resolve(n))
            .isEqualTo(-1L);
      }
    }
  }

  /** The job's last run replicated every filesystem without a problem. */
  static void assertRunOk(DaemonProcess d, JobStatus s) {
    assertThat(s.lastRun()).isNotNull();
    assertThat(s.lastRun().problems()).as(d.logText()).isEmpty();
    assertThat(s.lastRun().filesystems())
        .extracting(JobStatus.Fs::state)
        .isNotEmpty()
        .containsOnly("REPLICATED");
  }
}
