package dev.zrepl4j.replication;

import dev.zrepl4j.rpc.ErrorCode;
import dev.zrepl4j.rpc.RemoteException;
import java.io.IOException;

/**
 * A sender whose step completions are lost, as if the run stopped (a crash, power loss, a cut
 * connection) between each receive and the sender's bookkeeping.
 */
final class CompletionLost extends ForwardingSender {
  CompletionLost(SenderApi sender) {
    super(sender);
  }

  /** {@code connector}'s connections, with their sender's completions lost. */
  static Replication.Connector around(Replication.Connector connector) {
    return () -> {
      var c = connector.connect();
      return new Replication.Connection(new CompletionLost(c.sender()), c.receiver(), c);
    };
  }

  @Override
  public void sendCompleted(SendCompleted done) throws IOException {
    throw new RemoteException(ErrorCode.INTERNAL, "stopped before the completion (test)");
  }

  @Override
  public void sendCompletedAll(SendCompletedBatch batch) throws IOException {
    throw new RemoteException(ErrorCode.INTERNAL, "stopped before the completions (test)");
  }

  @Override
  public void holdCursorsAll(SendCompletedBatch batch) throws IOException {
    throw new RemoteException(ErrorCode.INTERNAL, "stopped before the cursors (test)");
  }
}
