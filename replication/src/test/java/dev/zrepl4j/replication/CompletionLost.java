package dev.zrepl4j.replication;

import dev.zrepl4j.rpc.ErrorCode;
import dev.zrepl4j.rpc.RemoteException;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;

/**
 * A sender whose step completions are lost, as if the run stopped (a crash, power loss, a cut
 * connection) between each receive and the sender's bookkeeping.
 */
record CompletionLost(SenderApi sender) implements SenderApi {
  @Override
  public List<FsInfo> listFilesystems() throws IOException {
    return sender.listFilesystems();
  }

  @Override
  public List<FsVersion> listVersions(FsRequest request) throws IOException {
    return sender.listVersions(request);
  }

  @Override
  public List<FsVersionList> listVersionsOf(FsListRequest request) throws IOException {
    return sender.listVersionsOf(request);
  }

  @Override
  public InputStream send(SendSpec spec) throws IOException {
    return sender.send(spec);
  }

  @Override
  public SizeEstimate sendDry(SendSpec spec) throws IOException {
    return sender.sendDry(spec);
  }

  @Override
  public void sendCompleted(SendCompleted done) throws IOException {
    throw new RemoteException(ErrorCode.INTERNAL, "stopped before the completion (test)");
  }

  @Override
  public PruneResult prune(PruneRequest request) throws IOException {
    return sender.prune(request);
  }
}
