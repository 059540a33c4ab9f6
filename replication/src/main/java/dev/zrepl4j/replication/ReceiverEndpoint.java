package dev.zrepl4j.replication;

import dev.zrepl4j.replication.filter.DatasetMapping;
import dev.zrepl4j.replication.pruning.PruneRequest;
import dev.zrepl4j.replication.pruning.PruneResult;
import dev.zrepl4j.rpc.Caller;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.Zfs;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * The {@link ReceiverApi} served over RPC: register it under the prefix {@code receiver}; each call
 * is confined to the calling client's root ({@code root_fs/<identity>} for {@link
 * Receiver.Mode#SINK}), whatever names the client sends. Clients call it through {@code
 * client.proxy("receiver", ReceiverApi.class)}. Thread-safe.
 */
public final class ReceiverEndpoint {
  private final Zfs zfs;
  private final DatasetPath rootFs;
  private final Receiver.Mode mode;
  private final String job;
  private final ReceiverOptions options;
  private final @Nullable DatasetMapping mapping;
  private final BandwidthLimiter bandwidth;

  private final Map<String, Receiver> clients = new ConcurrentHashMap<>();

  /**
   * @throws IllegalArgumentException for an invalid job name or root_fs
   */
  public ReceiverEndpoint(
      Zfs zfs, DatasetPath rootFs, Receiver.Mode mode, String job, ReceiverOptions options) {
    this(zfs, rootFs, mode, job, options, BandwidthLimiter.none());
  }

  /**
   * @param bandwidth the job's {@code recv.bandwidth_limit}: every stream any client sends is fed
   *     into {@code zfs recv} through it, one bucket for all of them
   * @throws IllegalArgumentException for an invalid job name or root_fs
   */
  public ReceiverEndpoint(
      Zfs zfs,
      DatasetPath rootFs,
      Receiver.Mode mode,
      String job,
      ReceiverOptions options,
      BandwidthLimiter bandwidth) {
    this.zfs = zfs;
    this.rootFs = rootFs;
    this.mode = mode;
    this.job = ZreplNames.checkJob(job);
    this.options = options;
    this.mapping = null;
    this.bandwidth = bandwidth;
    Receiver.localRoot(zfs, rootFs, job, options); // validates root_fs and options now
  }

  /**
   * An endpoint that puts each filesystem where {@code mapping} says: below {@code
   * root_fs/<identity>} for {@link Receiver.Mode#SINK} (targets relative to it), at the absolute
   * target (strictly below {@code root_fs}) for {@link Receiver.Mode#LOCAL_ROOT}. See {@link
   * Receiver#sink(Zfs, DatasetPath, String, String, ReceiverOptions, DatasetMapping)}.
   *
   * @throws IllegalArgumentException for an invalid job name or root_fs, a mapping that is not
   *     invertible ({@link DatasetMapping#inverse()}), or (LOCAL_ROOT) a target not below root_fs
   */
  public ReceiverEndpoint(
      Zfs zfs,
      DatasetPath rootFs,
      Receiver.Mode mode,
      String job,
      ReceiverOptions options,
      DatasetMapping mapping) {
    this(zfs, rootFs, mode, job, options, mapping, BandwidthLimiter.none());
  }

  /**
   * {@link #ReceiverEndpoint(Zfs, DatasetPath, Receiver.Mode, String, ReceiverOptions,
   * DatasetMapping)} with the job's {@code recv.bandwidth_limit} (see {@link #ReceiverEndpoint(Zfs,
   * DatasetPath, Receiver.Mode, String, ReceiverOptions, BandwidthLimiter)}).
   */
  public ReceiverEndpoint(
      Zfs zfs,
      DatasetPath rootFs,
      Receiver.Mode mode,
      String job,
      ReceiverOptions options,
      DatasetMapping mapping,
      BandwidthLimiter bandwidth) {
    this.zfs = zfs;
    this.rootFs = rootFs;
    this.mode = mode;
    this.job = ZreplNames.checkJob(job);
    this.options = options;
    this.mapping = mapping;
    this.bandwidth = bandwidth;
    // validates root_fs, options and the mapping now
    switch (mode) {
      case LOCAL_ROOT -> Receiver.localRoot(zfs, rootFs, job, options, mapping);
      case SINK -> {
        mapping.inverse();
        Receiver.localRoot(zfs, rootFs, job, options);
      }
    }
  }

  /**
   * The caller's receiver, made at its first call and kept (one per client identity, as the sender
   * side keeps one per client): what it read for a client's plan serves the rest of that client's
   * run ({@link Recent}).
   */
  private Receiver receiver(Caller caller) throws IOException {
    var kept = clients.get(caller.identity());
    if (kept != null) {
      return kept;
    }
    var r = unlimitedReceiver(caller);
    var made = bandwidth.limited() ? r.limited(bandwidth) : r;
    var raced = clients.putIfAbsent(caller.identity(), made);
    return raced != null ? raced : made;
  }

  private Receiver unlimitedReceiver(Caller caller) throws IOException {
    var m = mapping;
    return switch (mode) {
      case SINK ->
          m == null
              ? Receiver.sink(zfs, rootFs, caller.identity(), job, options)
              : Receiver.sink(zfs, rootFs, caller.identity(), job, options, m);
      case LOCAL_ROOT ->
          m == null
              ? Receiver.localRoot(zfs, rootFs, job, options)
              : Receiver.localRoot(zfs, rootFs, job, options, m);
    };
  }

  /** {@link ReceiverApi#listFilesystems()} for the caller. */
  public List<FsInfo> listFilesystems(Caller caller) throws IOException {
    return receiver(caller).listFilesystems();
  }

  /** {@link ReceiverApi#mapped} for the caller. */
  public FsListRequest mapped(FsListRequest request, Caller caller) throws IOException {
    return receiver(caller).mapped(request);
  }

  /** {@link ReceiverApi#listVersionsOf} for the caller. */
  public List<FsVersionList> listVersionsOf(FsListRequest request, Caller caller)
      throws IOException {
    return receiver(caller).listVersionsOf(request);
  }

  /** {@link ReceiverApi#receive} for the caller. */
  public ReceiveResult receive(ReceiveSpec spec, InputStream stream, Caller caller)
      throws IOException {
    return receiver(caller).receive(spec, stream);
  }

  /** {@link ReceiverApi#confirmReceived} for the caller. */
  public void confirmReceived(ReceivedBase base, Caller caller) throws IOException {
    receiver(caller).confirmReceived(base);
  }

  /** {@link ReceiverApi#confirmReceivedAll} for the caller. */
  public void confirmReceivedAll(ReceivedBaseBatch batch, Caller caller) throws IOException {
    receiver(caller).confirmReceivedAll(batch);
  }

  /** {@link ReceiverApi#holdReceivedAll} for the caller. */
  public void holdReceivedAll(ReceivedBaseBatch batch, Caller caller) throws IOException {
    receiver(caller).holdReceivedAll(batch);
  }

  /** {@link ReceiverApi#renameReceived} for the caller: both names below the caller's root. */
  public void renameReceived(ReceivedRename rename, Caller caller) throws IOException {
    receiver(caller).renameReceived(rename);
  }

  /** {@link ReceiverApi#verify} for the caller: only copies below the caller's root. */
  public VerifyFacts verify(VerifyRequest request, Caller caller) throws IOException {
    return unlimitedReceiver(caller).verify(request);
  }

  /**
   * {@link ReceiverApi#prune} for the caller: only the filesystems below the caller's root ({@code
   * root_fs/<identity>} for a sink) are pruned, whatever the rules.
   */
  public PruneResult prune(PruneRequest request, Caller caller) throws IOException {
    return receiver(caller).prune(request);
  }
}
