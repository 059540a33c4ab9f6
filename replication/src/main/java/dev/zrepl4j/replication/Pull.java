package dev.zrepl4j.replication;

import dev.zrepl4j.replication.filter.DatasetMapping;
import dev.zrepl4j.rpc.Caller;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.Zfs;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The pull driver: a remote sender (a source) called over RPC sends to this host's receiver, called
 * in-process. Reconnects for every {@link #connect()}. Thread-safe.
 */
public final class Pull implements Replication.Connector, AutoCloseable {
  private final RpcServer local = new RpcServer(RpcOptions.defaults());
  private final Caller caller;
  private final Dialer sender;
  private final @Nullable DatasetMapping mapping;

  /**
   * @param sender dials the source, which serves a sender under {@code sender}
   * @param receiver the receiver endpoint (registered in-process under {@code receiver})
   * @param identity the identity the local receiver sees
   */
  public Pull(Dialer sender, Object receiver, String identity) {
    local.register("receiver", receiver);
    this.caller = new Caller(identity, "local");
    this.sender = sender;
    this.mapping = null;
  }

  /**
   * A pull that replicates only the source's filesystems that {@code mapping} maps; the others are
   * skipped before planning, as the seed's pull skipped a NoMatch (the receiver, built with the
   * same mapping, would refuse them, and the initial replication of their descendants with them).
   *
   * @param sender dials the source, which serves a sender under {@code sender}
   * @param receiver the receiver endpoint (registered in-process under {@code receiver}), built
   *     with {@code mapping} ({@link Receiver#localRoot(Zfs, DatasetPath, String, ReceiverOptions,
   *     DatasetMapping)})
   * @param identity the identity the local receiver sees
   */
  public Pull(Dialer sender, Object receiver, String identity, DatasetMapping mapping) {
    local.register("receiver", receiver);
    this.caller = new Caller(identity, "local");
    this.sender = sender;
    this.mapping = mapping;
  }

  @Override
  public Replication.Connection connect() throws IOException {
    var remote = sender.dial();
    var here = local.local(caller);
    var senderApi = remote.proxy("sender", SenderApi.class);
    var m = mapping;
    return new Replication.Connection(
        m == null ? senderApi : new Mapped(senderApi, m),
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

  /** The source's sender showing only the filesystems a mapping maps. Thread-safe. */
  private static final class Mapped extends ForwardingSender {
    private final DatasetMapping mapping;

    Mapped(SenderApi sender, DatasetMapping mapping) {
      super(sender);
      this.mapping = mapping;
    }

    @Override
    public List<FsInfo> listFilesystems() throws IOException {
      var out = new ArrayList<FsInfo>();
      for (var fs : delegate().listFilesystems()) {
        if (mapped(fs.path())) {
          out.add(fs);
        }
      }
      return out;
    }

    private boolean mapped(String name) {
      try {
        return mapping.map(DatasetPath.parse(name)).isPresent();
      } catch (IllegalArgumentException e) {
        return true; // not a dataset name: the receiver refuses it, naming it
      }
    }
  }
}
