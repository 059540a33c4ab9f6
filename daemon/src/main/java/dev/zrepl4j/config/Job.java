package dev.zrepl4j.config;

import dev.zrepl4j.replication.InitialPolicy;
import dev.zrepl4j.replication.Protection;
import dev.zrepl4j.replication.ReceiverOptions;
import dev.zrepl4j.replication.SenderOptions;
import dev.zrepl4j.replication.filter.DatasetFilter;
import dev.zrepl4j.replication.filter.DatasetMapping;
import dev.zrepl4j.replication.pruning.PruneRule;
import dev.zrepl4j.zfs.DatasetPath;
import java.time.Duration;
import java.util.List;
import org.jspecify.annotations.Nullable;

/** One entry of {@code jobs:}. The name is unique in the config and never changes (zrepl#327). */
public sealed interface Job {
  String name();

  /** zrepl's {@code type:} of this job. */
  String type();

  /** An active job that replicates (push, pull). */
  sealed interface Active extends Job {
    Connect connect();

    Pruning pruning();

    ReplicationOptions replication();

    InitialPolicy initialReplication();

    /**
     * {@code zrepl4j_lag_objective} (a zrepl4j extension, not a zrepl key): the largest acceptable
     * replication lag of each filesystem; a breach shows in status, in metrics and in the log.
     */
    @Nullable Duration lagObjective();

    /**
     * {@code zrepl4j_verify} (a zrepl4j extension): {@code zrepl4j verify} on a schedule; null for
     * only on demand.
     */
    @Nullable Verify verify();
  }

  /**
   * {@code zrepl4j_verify: {interval: 7d, sample: 1}}: the job's copies are verified every {@code
   * interval} (the first one {@code interval} after the daemon starts), the content of {@code
   * sample} snapshots per filesystem.
   */
  record Verify(Duration interval, int sample) {}

  /** A passive job that serves active ones (sink, source). */
  sealed interface Passive extends Job {
    Serve serve();
  }

  /** {@code type: push}: takes snapshots, sends to a sink. */
  record Push(
      String name,
      Connect connect,
      DatasetFilter filesystems,
      Send send,
      Snapshotting snapshotting,
      Pruning pruning,
      ReplicationOptions replication,
      InitialPolicy initialReplication,
      @Nullable Duration lagObjective,
      @Nullable Verify verify)
      implements Active {
    @Override
    public String type() {
      return "push";
    }
  }

  /** Where a receiving job (sink, pull) puts each filesystem it receives. */
  sealed interface Targets {
    /**
     * By the sender's name: a sink's {@code root_fs/<client identity>/<sender path>}, a pull job's
     * {@code root_fs/<source path>}.
     */
    record SenderNames() implements Targets {}

    /**
     * The seed's {@code pattern<: target} rules (extra key {@code mapping:}): a sink's targets are
     * relative to {@code root_fs/<client identity>}, a pull job's are absolute and below {@code
     * root_fs}; invertible (see {@link DatasetMapping#inverse()}). Unmapped names are refused (a
     * sink) or skipped (a pull job).
     */
    record Mapped(DatasetMapping mapping) implements Targets {}
  }

  /** {@code interval:} of a pull job. */
  sealed interface Interval {
    /** A run {@code period} after the previous one ended (and one at start). */
    record Every(Duration period) implements Interval {}

    /** {@code interval: manual}: runs only on {@code signal wakeup}. */
    record Manual() implements Interval {}
  }

  /** {@code type: sink}: receives into {@code root_fs/<client identity>/...} by {@code targets}. */
  record Sink(String name, DatasetPath rootFs, Serve serve, Recv recv, Targets targets)
      implements Passive {
    @Override
    public String type() {
      return "sink";
    }
  }

  /** {@code type: pull}: receives from a source below {@code root_fs}, by {@code targets}. */
  record Pull(
      String name,
      Connect connect,
      DatasetPath rootFs,
      Interval interval,
      Recv recv,
      Pruning pruning,
      ReplicationOptions replication,
      InitialPolicy initialReplication,
      Targets targets,
      @Nullable Duration lagObjective,
      @Nullable Verify verify)
      implements Active {
    @Override
    public String type() {
      return "pull";
    }
  }

  /** {@code type: source}: takes snapshots, serves them to pull jobs. */
  record Source(
      String name, Serve serve, DatasetFilter filesystems, Send send, Snapshotting snapshotting)
      implements Passive {
    @Override
    public String type() {
      return "source";
    }
  }

  /** {@code type: snap}: local snapshots and pruning only. */
  record Snap(
      String name, DatasetFilter filesystems, Snapshotting snapshotting, List<PruneRule> keep)
      implements Job {
    public Snap {
      keep = List.copyOf(keep);
    }

    @Override
    public String type() {
      return "snap";
    }
  }

  /**
   * {@code send:}.
   *
   * @param options the flags (encrypted, raw, compressed, large_blocks, embedded_data,
   *     send_properties)
   * @param backupProperties {@code backup_properties} (-b)
   * @param saved {@code saved} (-S)
   */
  record Send(
      SenderOptions options, boolean backupProperties, boolean saved, BandwidthLimit bandwidth) {}

  /** {@code recv:}. */
  record Recv(ReceiverOptions options, BandwidthLimit bandwidth) {
    public static final Recv DEFAULTS = new Recv(ReceiverOptions.DEFAULTS, BandwidthLimit.NONE);
  }

  /**
   * {@code bandwidth_limit:} of {@code send} or {@code recv}: a token bucket per job, shared by all
   * its transfers (zrepl's semantics).
   *
   * @param maxBytesPerSecond {@code max}: -1 = unlimited (zrepl's default), else positive
   * @param bucketCapacity {@code bucket_capacity}: bytes, positive (default 128 KiB)
   */
  record BandwidthLimit(long maxBytesPerSecond, long bucketCapacity) {
    public static final BandwidthLimit NONE = new BandwidthLimit(-1, 128 * 1024);

    public BandwidthLimit {
      if (maxBytesPerSecond != -1 && maxBytesPerSecond <= 0) {
        throw new IllegalArgumentException(
            "bandwidth limit " + maxBytesPerSecond + " B/s: must be positive, or -1 for none");
      }
      if (bucketCapacity <= 0) {
        throw new IllegalArgumentException(
            "bucket capacity " + bucketCapacity + " B: must be positive");
      }
    }

    public boolean unlimited() {
      return maxBytesPerSecond < 0;
    }
  }

  /** {@code pruning:} of an active job. */
  record Pruning(List<PruneRule> keepSender, List<PruneRule> keepReceiver) {
    public Pruning {
      keepSender = List.copyOf(keepSender);
      keepReceiver = List.copyOf(keepReceiver);
    }
  }

  /**
   * {@code replication:} ({@code protection}, {@code concurrency}) and our extensions {@code
   * zrepl4j_send_intermediates} (one {@code zfs send -I} step for consecutive snapshots) and {@code
   * zrepl4j_follow_renames} (the receiver's copy of a filesystem renamed on the sender is renamed
   * too, instead of only reported).
   */
  record ReplicationOptions(
      Protection initial,
      Protection incremental,
      int steps,
      int sizeEstimates,
      boolean sendIntermediates,
      boolean followRenames) {
    public static final ReplicationOptions DEFAULTS =
        new ReplicationOptions(
            Protection.GUARANTEE_RESUMABILITY,
            Protection.GUARANTEE_RESUMABILITY,
            1,
            4,
            false,
            false);
  }
}
