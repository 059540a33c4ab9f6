package dev.zrepl4j.replication;

import dev.zrepl4j.rpc.Caller;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import java.io.IOException;

/**
 * The push driver: this host's sender, called in-process, sends to a remote receiver (a sink)
 * called over RPC. Reconnects for every {@link #connect()}. Thread-safe.
 */
public final class Push implements Replication.Connector, AutoCloseable {
  private final RpcServer local = new RpcServer(RpcOptions.defaults());
  private final Caller caller;
  private final Dialer receiver;

  /**
   * @param sender the sender endpoint (registered in-process under {@code sender})
   * @param identity the identity the local sender sees
   * @param receiver dials the sink, which serves a receiver under {@code receiver}
   */
  public Push(Object sender, String identity, Dialer receiver) {
    local.register("sender", sender);
    this.caller = new Caller(identity, "local");
    this.receiver = receiver;
  }

  @Override
  public Replication.Connection connect() throws IOException {
    var remote = receiver.dial();
    var here = local.local(caller);
    return new Replication.Connection(
        here.proxy("sender", SenderApi.class),
        remote.proxy("receiver", ReceiverApi.class),
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
