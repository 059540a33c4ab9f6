package dev.zrepl4j.replication;

import dev.zrepl4j.replication.pruning.PruneRequest;
import dev.zrepl4j.replication.pruning.PruneResult;
import dev.zrepl4j.rpc.Caller;
import dev.zrepl4j.rpc.ErrorCode;
import dev.zrepl4j.rpc.RemoteException;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.Zfs;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.function.IntConsumer;
import java.util.function.Predicate;

/**
 * A source job's {@link SenderApi} served over RPC: register it under the prefix {@code sender}.
 * Each calling client gets a sender of its own ({@link Sender#forClient}), so several clients
 * pulling from one source each keep their own replication cursor and step holds (zrepl#380).
 * Clients call it through {@code client.proxy("sender", SenderApi.class)}, as they would a plain
 * {@link Sender}. Thread-safe.
 */
public final class SenderEndpoint {
  private final Zfs zfs;
  private final Predicate<DatasetPath> filter;
  private final String job;
  private final SenderOptions options;
  private final IntConsumer unmatched;
  private final BandwidthLimiter bandwidth;
  private final ConcurrentMap<String, Sender> clients = new ConcurrentHashMap<>();

  /**
   * @param job the source job's name, part of every client's hold and bookmark names
   * @param unmatched see {@link Sender#Sender(Zfs, Predicate, String, SenderOptions, IntConsumer)}
   * @param bandwidth the job's {@code send.bandwidth_limit}, one bucket for every client
   * @throws IllegalArgumentException for an invalid job name
   */
  public SenderEndpoint(
      Zfs zfs,
      Predicate<DatasetPath> filter,
      String job,
      SenderOptions options,
      IntConsumer unmatched,
      BandwidthLimiter bandwidth) {
    this.zfs = zfs;
    this.filter = filter;
    this.job = ZreplNames.checkJob(job);
    this.options = options;
    this.unmatched = unmatched;
    this.bandwidth = bandwidth;
  }

  /** The caller's sender (made at its first call; one per client identity). */
  Sender sender(Caller caller) throws RemoteException {
    var s = clients.get(caller.identity());
    if (s != null) {
      return s;
    }
    try {
      return clients.computeIfAbsent(
          caller.identity(),
          id -> Sender.forClient(zfs, filter, job, id, options, unmatched, bandwidth));
    } catch (IllegalArgumentException e) {
      throw new RemoteException(ErrorCode.FAILED_PRECONDITION, String.valueOf(e.getMessage()));
    }
  }

  /** {@link SenderApi#listFilesystems()} for the caller. */
  public List<FsInfo> listFilesystems(Caller caller) throws IOException {
    return sender(caller).listFilesystems();
  }

  /** {@link SenderApi#listVersions} for the caller. */
  public List<FsVersion> listVersions(FsRequest request, Caller caller) throws IOException {
    return sender(caller).listVersions(request);
  }

  /** {@link SenderApi#listVersionsOf} for the caller. */
  public List<FsVersionList> listVersionsOf(FsListRequest request, Caller caller)
      throws IOException {
    return sender(caller).listVersionsOf(request);
  }

  /** {@link Sender#replicationCursor}: the caller's cursor. */
  public List<FsVersion> replicationCursor(FsRequest request, Caller caller) throws IOException {
    return sender(caller).replicationCursor(request);
  }

  /** {@link SenderApi#send} for the caller: its step holds. */
  public InputStream send(SendSpec spec, Caller caller) throws IOException {
    if (caller.directData()) {
      // the stream goes on a data connection: zfs send may write into it itself
      return sender(caller).sendDeferred(spec);
    }
    return sender(caller).send(spec);
  }

  /** {@link SenderApi#protectAll} for the caller: its step holds. */
  public void protectAll(SendSpecBatch batch, Caller caller) throws IOException {
    sender(caller).protectAll(batch);
  }

  /** {@link SenderApi#sendDry} for the caller. */
  public SizeEstimate sendDry(SendSpec spec, Caller caller) throws IOException {
    return sender(caller).sendDry(spec);
  }

  /** {@link SenderApi#sendCompleted} for the caller: moves its cursor, releases its holds. */
  public void sendCompleted(SendCompleted done, Caller caller) throws IOException {
    sender(caller).sendCompleted(done);
  }

  /** {@link SenderApi#holdCursorsAll} for the caller. */
  public void holdCursorsAll(SendCompletedBatch batch, Caller caller) throws IOException {
    sender(caller).holdCursorsAll(batch);
  }

  /** {@link SenderApi#sendCompletedAll} for the caller. */
  public void sendCompletedAll(SendCompletedBatch batch, Caller caller) throws IOException {
    sender(caller).sendCompletedAll(batch);
  }

  /**
   * {@link SenderApi#prune} for the caller: {@code not_replicated} keeps what any client of the job
   * has not received yet (see {@link Sender#forClient}).
   */
  public VerifyFacts verify(VerifyRequest request, Caller caller) throws IOException {
    return sender(caller).verify(request);
  }

  public PruneResult prune(PruneRequest request, Caller caller) throws IOException {
    return sender(caller).prune(request);
  }
}
