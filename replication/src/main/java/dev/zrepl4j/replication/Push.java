package dev.zrepl4j.replication;

import dev.zrepl4j.rpc.Caller;
import dev.zrepl4j.rpc.ErrorCode;
import dev.zrepl4j.rpc.RemoteException;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The push driver: this host's sender, called in-process, sends to a remote receiver (a sink)
 * called over RPC. Reconnects for every {@link #connect()}. Thread-safe.
 */
public final class Push implements Replication.Connector, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Push.class);
  private final RpcServer local = new RpcServer(RpcOptions.defaults());
  private final Caller caller;
  private final Dialer receiver;
  // the filesystems the sink said it does not map, each logged once
  private final Set<String> notMapped = ConcurrentHashMap.newKeySet();

  /**
   * @param sender the sender endpoint (registered in-process under {@code sender})
   * @param identity the identity the local sender sees
   * @param receiver dials the sink, which serves a receiver under {@code receiver}
   */
  public Push(Object sender, String identity, Dialer receiver) {
    if (sender instanceof Sender s) {
      s.servesInProcess(); // its streams may go straight into the sink's data connection
    }
    local.register("sender", sender);
    this.caller = new Caller(identity, "local");
    this.receiver = receiver;
  }

  @Override
  public Replication.Connection connect() throws IOException {
    var remote = receiver.dial();
    var here = local.local(caller);
    var receiverApi = remote.proxy("receiver", ReceiverApi.class);
    return new Replication.Connection(
        new SinkMapped(here.proxy("sender", SenderApi.class), receiverApi, notMapped),
        receiverApi,
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

  /**
   * The local sender showing only the filesystems the sink takes ({@link ReceiverApi#mapped}): a
   * sink with the seed's {@code mapping:} refuses the others, so they are not planned (and do not
   * fail every run, nor block their mapped children's initial replication). Each one left out is
   * logged once. A sink that does not know the question (an older zrepl4j) takes everything, as
   * before.
   */
  private static final class SinkMapped extends ForwardingSender {
    private final ReceiverApi receiver;
    private final Set<String> reported;

    SinkMapped(SenderApi sender, ReceiverApi receiver, Set<String> reported) {
      super(sender);
      this.receiver = receiver;
      this.reported = reported;
    }

    @Override
    public List<FsInfo> listFilesystems() throws IOException {
      var all = delegate().listFilesystems();
      Set<String> taken;
      try {
        taken =
            new HashSet<>(
                receiver
                    .mapped(new FsListRequest(all.stream().map(FsInfo::path).toList()))
                    .filesystems());
      } catch (RemoteException e) {
        if (e.code() != ErrorCode.NOT_FOUND) {
          throw e;
        }
        return all; // an older sink: it has no mapping question, so no mapping
      }
      var out = new ArrayList<FsInfo>();
      for (var fs : all) {
        if (taken.contains(fs.path())) {
          out.add(fs);
        } else if (reported.add(fs.path())) {
          log.warn("{}: not pushed: the sink's mapping does not map it (reported once)", fs.path());
        }
      }
      return out;
    }
  }
}
