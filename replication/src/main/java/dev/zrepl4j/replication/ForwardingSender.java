package dev.zrepl4j.replication;

import dev.zrepl4j.replication.pruning.PruneRequest;
import dev.zrepl4j.replication.pruning.PruneResult;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;

/**
 * A {@link SenderApi} that passes every call to another one; subclasses override what they change
 * (a pull's mapping hides filesystems). Thread-safe if the delegate is.
 */
abstract class ForwardingSender implements SenderApi {
  private final SenderApi sender;

  ForwardingSender(SenderApi sender) {
    this.sender = sender;
  }

  /** The sender the calls go to. */
  final SenderApi delegate() {
    return sender;
  }

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
  public void protectAll(SendSpecBatch batch) throws IOException {
    sender.protectAll(batch);
  }

  @Override
  public SizeEstimate sendDry(SendSpec spec) throws IOException {
    return sender.sendDry(spec);
  }

  @Override
  public void sendCompleted(SendCompleted done) throws IOException {
    sender.sendCompleted(done);
  }

  @Override
  public void sendCompletedAll(SendCompletedBatch batch) throws IOException {
    sender.sendCompletedAll(batch);
  }

  @Override
  public void holdCursorsAll(SendCompletedBatch batch) throws IOException {
    sender.holdCursorsAll(batch);
  }

  @Override
  public VerifyFacts verify(VerifyRequest request) throws IOException {
    return sender.verify(request);
  }

  @Override
  public PruneResult prune(PruneRequest request) throws IOException {
    return sender.prune(request);
  }
}
