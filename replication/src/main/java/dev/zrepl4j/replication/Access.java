package dev.zrepl4j.replication;

import dev.zrepl4j.replication.pruning.PruneExecutor;
import dev.zrepl4j.replication.pruning.PruneRequest;
import dev.zrepl4j.replication.pruning.PruneRule;
import dev.zrepl4j.rpc.ErrorCode;
import dev.zrepl4j.rpc.RemoteException;
import dev.zrepl4j.rpc.transport.Identities;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.Zfs;
import dev.zrepl4j.zfs.ZfsException;
import java.util.List;
import java.util.function.Predicate;

/**
 * Name validation and access checks shared by the endpoints: every name and prune rule a client
 * sends is parsed here, and every refusal is a {@link RemoteException} the client sees. Stateless.
 */
final class Access {
  private Access() {}

  /**
   * Parses a filesystem name a client sent: a non-empty path of valid components.
   *
   * @throws RemoteException INVALID_ARGUMENT naming it otherwise
   */
  static DatasetPath filesystem(String name) throws RemoteException {
    DatasetPath p;
    try {
      p = DatasetPath.parse(name);
    } catch (IllegalArgumentException e) {
      throw new RemoteException(ErrorCode.INVALID_ARGUMENT, String.valueOf(e.getMessage()));
    }
    return checked(p, name);
  }

  /**
   * Checks a path built from JSON components (the seed's form): each one {@link Identities#valid}.
   */
  static DatasetPath checked(DatasetPath p, String asSent) throws RemoteException {
    if (p.isEmpty()) {
      throw new RemoteException(ErrorCode.INVALID_ARGUMENT, "empty filesystem name");
    }
    for (var c : p.components()) {
      if (!Identities.valid(c)) {
        throw new RemoteException(
            ErrorCode.INVALID_ARGUMENT,
            "invalid filesystem name '" + asSent + "': bad component '" + c + "'");
      }
    }
    return p;
  }

  /**
   * Checks that {@code filter} allows {@code fs}.
   *
   * @throws RemoteException INVALID_ARGUMENT "filesystem X is not allowed by the filter"
   */
  static DatasetPath allowed(Predicate<DatasetPath> filter, DatasetPath fs) throws RemoteException {
    if (!filter.test(fs)) {
      throw new RemoteException(
          ErrorCode.INVALID_ARGUMENT, "filesystem " + fs + " is not allowed by the filter");
    }
    return fs;
  }

  /** Whether a failed command says the dataset does not exist. */
  static boolean doesNotExist(ZfsException e) {
    var s = e.stderr();
    return s.contains("does not exist") || s.contains("dataset does not exist");
  }

  /** A lookup failure of {@code what}: NOT_FOUND when zfs said so, else the exception itself. */
  static ZfsException orNotFound(ZfsException e, String what) throws RemoteException {
    if (doesNotExist(e)) {
      throw new RemoteException(ErrorCode.NOT_FOUND, what + " does not exist", e);
    }
    return e;
  }

  /**
   * The rules of an endpoint's {@code prune} request ({@link SenderApi#prune}, {@link
   * ReceiverApi#prune}), validated before anything is listed.
   *
   * @throws RemoteException INVALID_ARGUMENT naming the bad rule
   */
  static List<PruneRule> pruneRules(PruneRequest request) throws RemoteException {
    try {
      return request.toRules();
    } catch (IllegalArgumentException e) {
      throw new RemoteException(ErrorCode.INVALID_ARGUMENT, String.valueOf(e.getMessage()));
    }
  }

  /**
   * An endpoint's prune executor, batching as {@link PruneExecutor#maxBatchFromEnvironment()} says.
   *
   * @throws RemoteException FAILED_PRECONDITION if {@code ZREPL_DESTROY_MAX_BATCH_SIZE} is invalid
   */
  static PruneExecutor pruneExecutor(Zfs zfs) throws RemoteException {
    try {
      return new PruneExecutor(zfs, PruneExecutor.maxBatchFromEnvironment());
    } catch (IllegalArgumentException e) {
      throw new RemoteException(ErrorCode.FAILED_PRECONDITION, String.valueOf(e.getMessage()));
    }
  }
}
