package dev.zrepl4j.replication;

import dev.zrepl4j.rpc.Caller;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import java.io.IOException;

/**
 * The pull driver: a remote sender (a source) called over RPC sends to this host's receiver, called
 * in-process. Reconnects for every {@link #connect()}. Thread-safe.
 */
public final class Pull implements Replication.Connector, AutoCloseable {
  private final RpcServer local = new RpcServer(RpcOptions.defaults());
  private final Caller caller;
  private final Dialer sender;

  /**
   * @param sender dials the source, which serves a sender under {@code sender}
   * @param receiver the receiver endpoint (registered in-process under {@code receiver})
   * @param identity the identity the local receiver sees
   */
  public Pull(Dialer sender, Object receiver, String identity) {
    local.register("receiver", receiver);
    this.caller = new Caller(identity, "local");
    this.sender = sender;
  }

  @Override
  public Replication.Connection connect() throws IOException {
    var remote = sender.dial();
    var here = local.local(caller);
    return new Replication.Connection(
        remote.proxy("sender", SenderApi.class),
        here.proxy("receiver", ReceiverApi.class),
        () -> {
          try {
            remote.close();
          } finally {
            here.close();
          }
        });
  }

  @Override
  public void close() {
    local.close();
  }
}
