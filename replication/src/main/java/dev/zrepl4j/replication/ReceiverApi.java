package dev.zrepl4j.replication;

import dev.zrepl4j.replication.pruning.PruneRequest;
import dev.zrepl4j.replication.pruning.PruneResult;
import dev.zrepl4j.rpc.RemoteException;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;

/**
 * The receiving side, as the active side calls it: over RPC (a push job calling a sink) or
 * in-process (a pull job's own receiver). Every name the caller sends is in the sender's namespace;
 * the receiver confines it below its root for that caller ({@code root_fs/<client identity>/…} for
 * a sink, {@code root_fs/…} for a pull job) and refuses names that would escape it. Nothing already
 * received is destroyed or rolled back, except a placeholder replaced by a full receive and
 * snapshots the caller's {@link #prune} rules do not keep. Registered under the prefix {@code
 * receiver}.
 */
public interface ReceiverApi {
  /** The filesystems below the caller's root, mapped back into the sender's namespace. */
  List<FsInfo> listFilesystems() throws IOException;

  /**
   * Of the request's filesystems (sender's namespace), those this receiver takes: every one without
   * a mapping; with the seed's {@code mapping:}, those it maps. A push asks before it plans, so
   * that it does not send what the sink would refuse (a name that is no dataset name is kept:
   * {@link #receive} refuses it, naming it).
   */
  FsListRequest mapped(FsListRequest request) throws IOException;

  /** Several filesystems' versions in one call; absent filesystems get an empty list. */
  List<FsVersionList> listVersionsOf(FsListRequest request) throws IOException;

  /**
   * Receives one step's stream into the mapped filesystem: creates missing parents as placeholders,
   * receives resumably where ZFS can, holds the newest received snapshot (unless {@link
   * ReceiveSpec#holdLater()}: the caller confirms it with {@link #confirmReceivedAll}), and reads
   * the stream to its end.
   */
  ReceiveResult receive(ReceiveSpec spec, InputStream stream) throws IOException;

  /**
   * The active side found the filesystem in sync at {@code base.snapshot()} (after a start, or
   * after a step whose end it did not see): the last-received hold goes there and off this job's
   * other snapshots, as after a receive. A receive cut short after {@code zfs recv} finished but
   * before the hold moved leaves it on the snapshot before; the listing cannot repair that, since a
   * newest snapshot without the hold may also be one the administrator took on the receiver, not a
   * received one. Only the snapshot with the base's guid is held (the sender's base may be a
   * bookmark).
   *
   * @throws RemoteException FAILED_PRECONDITION if the receiver has no such snapshot
   */
  void confirmReceived(ReceivedBase base) throws IOException;

  /**
   * {@link #confirmReceived} for several filesystems at once, after receives with {@link
   * ReceiveSpec#holdLater()} (our extension; a receiver without it answers "unregistered endpoint",
   * and it moved its holds in the receives). Every base is checked first: one that is refused
   * refuses the whole call with nothing changed.
   */
  void confirmReceivedAll(ReceivedBaseBatch batch) throws IOException;

  /**
   * The first half of {@link #confirmReceivedAll}, which the active side calls while the sender
   * completes the same steps (our extension; a receiver without it answers "unregistered
   * endpoint"): the last-received hold goes on each base's snapshot, and comes off nothing. The
   * {@link #confirmReceivedAll} of the same bases that follows (once the sender took them) only
   * releases the older holds. If it never follows (the sender refused), the extra hold keeps the
   * received snapshot until the next confirmation moves it. Every base is checked first, as there.
   */
  void holdReceivedAll(ReceivedBaseBatch batch) throws IOException;

  /**
   * Renames the copy of a filesystem the sender renamed or moved ({@code zrepl4j_follow_renames}):
   * only if {@code from} is a received filesystem (no placeholder) holding a snapshot with the
   * evidence's guid and {@code to} does not exist. Parents of {@code to} that do not exist are
   * created as placeholders first (as for a receive; a parent that arrives later replaces its
   * placeholder). Nothing else changes.
   *
   * @throws RemoteException FAILED_PRECONDITION naming the condition that does not hold
   */
  void renameReceived(ReceivedRename rename) throws IOException;

  /**
   * Prunes the snapshots of the filesystems below the caller's root (those {@link
   * #listFilesystems()} shows, placeholders skipped) with the request's rules ({@code
   * keep_receiver}); nothing outside that root is touched. Whatever the rules say, {@link
   * PruneGuard} keeps held snapshots (the last-received hold) and the newest snapshot of each
   * filesystem, the base of the next incremental receive.
   *
   * @throws RemoteException INVALID_ARGUMENT naming an invalid rule (nothing is destroyed then)
   * @throws IOException if listing fails; destroy errors are in {@link PruneResult#failures()}
   */
  PruneResult prune(PruneRequest request) throws IOException;

  /**
   * For {@code zrepl4j verify}: guid and {@code logicalreferenced} of the asked snapshots of the
   * copy of a filesystem (the sender's name, mapped as for a receive; a copy that does not exist or
   * is a placeholder has none), the content digest of the asked ones (raw sends if asked), and the
   * properties set on the copy by hand (not those of the receiver's own configuration).
   *
   * @throws RemoteException INVALID_ARGUMENT for an invalid or unmapped name
   */
  VerifyFacts verify(VerifyRequest request) throws IOException;
}
