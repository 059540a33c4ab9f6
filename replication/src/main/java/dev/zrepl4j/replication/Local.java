package dev.zrepl4j.replication;

import dev.zrepl4j.rpc.Caller;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;

/**
 * The local driver: sender and receiver in this process, called in-process (no sockets, no
 * serialization). Thread-safe.
 */
public final class Local implements Replication.Connector, AutoCloseable {
  private final RpcServer local = new RpcServer(RpcOptions.defaults());
  private final Caller caller;

  /**
   * @param sender the sender endpoint
   * @param receiver the receiver endpoint
   * @param identity the identity both endpoints see
   */
  public Local(Object sender, Object receiver, String identity) {
    if (sender instanceof Sender s) {
      s.servesInProcess(); // its streams may go to zfs recv on a loopback connection
    }
    local.register("sender", sender).register("receiver", receiver);
    this.caller = new Caller(identity, "local");
  }

  @Override
  public Replication.Connection connect() {
    var here = local.local(caller);
    return new Replication.Connection(
        here.proxy("sender", SenderApi.class),
        here.proxy("receiver", ReceiverApi.class),
        here::close,
        true);
  }

  @Override
  public void close() {
    local.close();
  }
}
