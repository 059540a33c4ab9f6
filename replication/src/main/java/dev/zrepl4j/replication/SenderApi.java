package dev.zrepl4j.replication;

import dev.zrepl4j.replication.pruning.PruneRequest;
import dev.zrepl4j.replication.pruning.PruneResult;
import dev.zrepl4j.rpc.RemoteException;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;

/**
 * The passive or active sending side, as the active side calls it: over RPC (a pull job calling a
 * source) or in-process (a push job calling its own sender). Every method checks the caller's
 * access: a sender shows and sends only filesystems its filter allows, whatever names it is sent.
 * Registered on an {@code RpcServer} under the prefix {@code sender}.
 */
public interface SenderApi {
  /** The filesystems the caller may replicate (the sender's filter), with placeholder=false. */
  List<FsInfo> listFilesystems() throws IOException;

  /**
   * The snapshots and bookmarks of one filesystem, ordered by createtxg.
   *
   * @throws RemoteException INVALID_ARGUMENT if the filter does not allow it
   */
  List<FsVersion> listVersions(FsRequest request) throws IOException;

  /**
   * Several filesystems' versions in one call (one {@code zfs} invocation on the sender).
   * Filesystems the filter does not allow are refused, not skipped.
   */
  List<FsVersionList> listVersionsOf(FsListRequest request) throws IOException;

  /** The stream of one step; the caller reads it to its end or closes it. */
  InputStream send(SendSpec spec) throws IOException;

  /**
   * Places the step holds of planned steps ahead of their sends, with one {@code zfs hold} for all
   * of them (our extension; a sender without it answers "unregistered endpoint" and each {@link
   * #send} places its own). Only steps of {@link Protection#GUARANTEE_RESUMABILITY} are protected
   * ahead; their sends then place nothing. Every step is checked first: one that is refused
   * (filter, a version gone or of another guid) refuses the whole call with nothing placed.
   */
  void protectAll(SendSpecBatch batch) throws IOException;

  /** Estimated size of a step's stream. */
  SizeEstimate sendDry(SendSpec spec) throws IOException;

  /**
   * The receiver has {@code to}: a step arrived, or a run found both sides at it. Moves this job's
   * replication cursor to it and releases this job's step holds on it, on {@code from} and on every
   * older snapshot (holds that a step cut short after its receive left behind).
   */
  void sendCompleted(SendCompleted done) throws IOException;

  /**
   * {@link #sendCompleted} for several filesystems at once (our extension; a sender without it
   * answers "unregistered endpoint"). Every completion is checked before anything changes: one that
   * is refused (a filesystem the filter does not allow, a version that is not there) refuses the
   * whole call, and the caller then completes them one by one.
   */
  void sendCompletedAll(SendCompletedBatch batch) throws IOException;

  /**
   * The first half of {@link #sendCompletedAll} (our extension; a sender without it answers
   * "unregistered endpoint"): this job's replication cursor goes to each completion's {@code to}
   * (the cursor bookmark, or without bookmarks the cursor hold), and nothing is released. It
   * returns once the cursors are there, so that the receiver may release its older holds beside the
   * {@link #sendCompletedAll} of the same batch that follows (which then places no cursor again).
   * Every completion is checked first, as there.
   */
  void holdCursorsAll(SendCompletedBatch batch) throws IOException;

  /**
   * Prunes the snapshots of every filesystem the filter allows with the request's rules ({@code
   * keep_sender}). Whatever the rules say, {@link PruneGuard} keeps bookmarks, held snapshots (step
   * holds, the cursor hold) and this job's replication cursor, so the next incremental step still
   * has its base. {@code not_replicated} uses this job's cursor.
   *
   * @throws RemoteException INVALID_ARGUMENT naming an invalid rule (nothing is destroyed then)
   * @throws IOException if listing fails; destroy errors are in {@link PruneResult#failures()}
   */
  PruneResult prune(PruneRequest request) throws IOException;

  /**
   * For {@code zrepl4j verify}: guid and {@code logicalreferenced} of the asked snapshots of a
   * filesystem the filter allows, the content digest of the asked ones, the properties a {@code -p}
   * stream carries, and whether this job's sends of it are raw.
   *
   * @throws RemoteException INVALID_ARGUMENT if the filter does not allow it, or for an invalid
   *     name
   */
  VerifyFacts verify(VerifyRequest request) throws IOException;
}
