package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.replication.FuseFixture;
import dev.zrepl4j.replication.Trees;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code send.bandwidth_limit} and {@code recv.bandwidth_limit} in real daemons replicating on
 * zfs-fuse: on each side of each kind of job (push and sink over {@code local}, source and pull
 * over TCP), a limited replication takes at least the time the limit implies. That is a lower
 * bound, so a correctness check and not a timing one: with {@code max} = 1 MiB/s and a bucket of
 * 128 KiB, a step of N bytes cannot end in less than (N - 128 KiB) / 1 MiB seconds, whatever the
 * machine's load; unlimited, the same 6 MiB go over in about a second here. And zrepl's sample
 * {@code bandwidth_limit.yml} runs, its paths adapted.
 */
@Timeout(300)
class BandwidthLimitIT extends TwoPoolsTest {
  private static final long MIB = 1 << 20;
  private static final long BUCKET = 128 * 1024;

  BandwidthLimitIT() {
    super("bw");
  }

  /** Where the limit is set. */
  enum Side {
    PUSH_SEND,
    SINK_RECV,
    SOURCE_SEND,
    PULL_RECV
  }

  private static String limit(Side side, Side here, String key) {
    return side == here
        ? "    %s: {bandwidth_limit: {max: 1 MiB, bucket_capacity: 128 KiB}}\n".formatted(key)
        : "";
  }

  @ParameterizedTest
  @EnumSource(Side.class)
  void aLimitedReplicationTakesAtLeastTheTimeTheLimitImplies(Side side) throws IOException {
    Trees.write(src.mounted("data/a/b").resolve("big.bin"), 11, (int) (6 * MIB));
    FuseFixture.run("zfs", "snapshot", src.path("data/a/b") + "@zrepl_bw1");
    int port = freePort();
    String job;
    String yaml;
    if (side == Side.PUSH_SEND || side == Side.SINK_RECV) {
      job = "push";
      yaml =
          """
            - name: sink
              type: sink
              root_fs: %s
              serve: {type: local, listener_name: backup}
          %s\
            - name: push
              type: push
              connect: {type: local, listener_name: backup, client_identity: here}
              filesystems: {"%s": true}
              snapshotting: {type: manual}
          %s\
              pruning: {keep_sender: [{type: last_n, count: 5}], keep_receiver: [{type: last_n, count: 5}]}
          """
              .formatted(
                  dst.path("sink"),
                  limit(side, Side.SINK_RECV, "recv"),
                  src.path("data/a/b"),
                  limit(side, Side.PUSH_SEND, "send"));
    } else {
      job = "pull";
      yaml =
          """
            - name: source
              type: source
              serve: {type: tcp, listen: "127.0.0.1:%d", clients: {"127.0.0.1": puller}}
              filesystems: {"%s": true}
              snapshotting: {type: manual}
          %s\
            - name: pull
              type: pull
              connect: {type: tcp, address: "127.0.0.1:%d"}
              root_fs: %s
              interval: manual
          %s\
              pruning: {keep_sender: [{type: last_n, count: 5}], keep_receiver: [{type: last_n, count: 5}]}
          """
              .formatted(
                  port,
                  src.path("data/a/b"),
                  limit(side, Side.SOURCE_SEND, "send"),
                  port,
                  dst.path("sink"),
                  limit(side, Side.PULL_RECV, "recv"));
    }
    try (var d = DaemonProcess.start(dir, "bw", global("bw") + "jobs:\n" + yaml, sock("bw"))) {
      d.cli("signal", "wakeup", job);
      var s = d.awaitRuns(job, 1);
      assertRunOk(d, s);
      long bytes = s.lastRun().filesystems().getFirst().bytes();
      assertThat(bytes).as("the step's stream").isGreaterThan(6 * MIB);
      double least = (double) (bytes - BUCKET) / MIB;
      assertThat(s.lastRun().seconds())
          .as("%d bytes at 1 MiB/s with a 128 KiB bucket (%s)", bytes, side)
          .isGreaterThanOrEqualTo(least);
    }
  }

  @Test
  void zreplsSampleRunsWithItsLimits() throws IOException {
    FuseFixture.run("zfs", "create", dst.path("sink2").toString());
    String sample;
    try (var in =
        Objects.requireNonNull(
            getClass().getResourceAsStream("/config/zrepl-samples/bandwidth_limit.yml"))) {
      sample = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    // adapted: the pools' paths, only data/a/b (the limits are 54321 and 12345 B/s), and the
    // second sink on a listener of its own (zrepl would hand each connection to either sink; this
    // daemon refuses a listener name taken twice)
    int nolimit = sample.indexOf("name: \"nolimit_sink\"");
    assertThat(nolimit).isPositive();
    var adapted =
        sample.substring(0, nolimit)
            + sample
                .substring(nolimit)
                .replace("listener_name: localsink", "listener_name: localsink_nolimit");
    adapted =
        adapted
            .replace("root_fs: \"fs0\"", "root_fs: \"" + dst.path("sink") + "\"")
            .replace("root_fs: \"fs1\"", "root_fs: \"" + dst.path("sink2") + "\"")
            .replace("\"root<\": true", "\"" + src.path("data/a/b") + "\": true");
    assertThat(adapted).doesNotContain("fs0", "fs1", "root<");
    FuseFixture.run("zfs", "snapshot", src.path("data/a/b") + "@zrepl_sample1");
    try (var d = DaemonProcess.start(dir, "sample", global("sample") + adapted, sock("sample"))) {
      d.cli("signal", "wakeup", "limited_push");
      var s = d.awaitRuns("limited_push", 1);
      assertRunOk(d, s);
      long bytes = s.lastRun().filesystems().getFirst().bytes();
      // the push's send limit: 54321 B/s with a 1 KiB bucket
      assertThat(s.lastRun().seconds())
          .as("%d bytes at 54321 B/s", bytes)
          .isGreaterThanOrEqualTo((bytes - 1024) / 54321.0);
      var fs = received("local_backup", "a/b");
      var mnt = dst.mountReadOnly(fs);
      try {
        assertSameTopFiles(src.mounted("data/a/b"), mnt);
      } finally {
        FuseFixture.unmount(fs);
      }
    }
  }
}
