package dev.zrepl4j.replication;

import dev.zrepl4j.replication.pruning.PruneRequest;
import dev.zrepl4j.replication.pruning.PruneResult;
import dev.zrepl4j.rpc.ErrorCode;
import dev.zrepl4j.rpc.RemoteException;
import dev.zrepl4j.zfs.DatasetPath;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * In-memory stand-ins of both sides for planner and engine tests (never the only test of a
 * behaviour that touches ZFS). A "stream" is a text naming the step and the snapshots it carries;
 * the receiver checks its base like {@code zfs recv} would and numbers received snapshots with its
 * own txgs. Thread-safe (synchronized).
 */
final class MemoryPools {

  /** A fault to inject into the next sends of a filesystem. */
  enum Fault {
    /** send throws a (temporary) IOException. */
    CONNECTION_LOST,
    /** send throws a (permanent) RemoteException. */
    SEND_REFUSED,
    /** the stream breaks after half of it; a resumable receiver keeps a token. */
    STREAM_CUT,
    /** no fault: the call goes through (to fault a later call). */
    NONE
  }

  final Map<String, List<FsVersion>> sender = new LinkedHashMap<>();
  final Map<String, RecvFs> receiver = new LinkedHashMap<>();
  final Map<String, List<Fault>> faults = new LinkedHashMap<>();
  // sendCompleted of a filesystem waits for its gate, if it has one
  final Map<String, java.util.concurrent.CountDownLatch> completionGates =
      new java.util.concurrent.ConcurrentHashMap<>();
  // faults of the next sendCompleted calls: CONNECTION_LOST or SEND_REFUSED (the call is refused)
  final Map<String, List<Fault>> completionFaults = new LinkedHashMap<>();
  final List<String> sendLog = Collections.synchronizedList(new ArrayList<>());
  final List<SendCompleted> completed = Collections.synchronizedList(new ArrayList<>());
  // the size of each sendCompletedAll call; false: the sender does not know the call (older peer)
  final List<Integer> completionBatches = Collections.synchronizedList(new ArrayList<>());
  volatile boolean batchedCompletions = true;
  // the size of each protectAll call
  final List<Integer> protectBatches = Collections.synchronizedList(new ArrayList<>());
  // step holds ahead, sends and completions in the order they ended ("protected N", "sent FS",
  // "completed N")
  final List<String> timeline = Collections.synchronizedList(new ArrayList<>());
  // how long each protectAll after the run's first takes (a slow zfs hold beside the steps)
  volatile long laterProtectMillis;
  // the size of each confirmReceivedAll call
  final List<Integer> receiverBatches = Collections.synchronizedList(new ArrayList<>());

  // the size of each holdReceivedAll call
  final List<Integer> receiverHoldsAhead = Collections.synchronizedList(new ArrayList<>());
  // a receiver from before holdReceivedAll (it has confirmReceivedAll)
  volatile boolean receiverWithoutHoldAhead;
  // a sender from before holdCursorsAll (it has sendCompletedAll)
  volatile boolean senderWithoutCursorsAhead;
  // the batched completion calls in the order they ended: "cursors N", "sender completed N",
  // "receiver held N", "receiver confirmed N"
  final List<String> completionEvents = Collections.synchronizedList(new ArrayList<>());
  // holdReceivedAll calls answered "unregistered endpoint"
  final AtomicInteger receiverHoldsAheadRefused = new AtomicInteger();
  final AtomicInteger senderListVersionsCalls = new AtomicInteger();
  final AtomicInteger receiverListVersionsCalls = new AtomicInteger();
  final AtomicInteger connects = new AtomicInteger();
  boolean resumable;
  private long senderTxg = 100;
  private long receiverTxg = 5000;
  private long guids = 1_000_000_007L;

  /** A receiver filesystem. */
  static final class RecvFs {
    boolean placeholder;
    String token = "";
    final List<FsVersion> versions = new ArrayList<>();

    @Override
    public String toString() {
      return (placeholder ? "placeholder " : "") + versions + (token.isEmpty() ? "" : " token");
    }
  }

  // verify: "sender|receiver <fs> [digests]" per call; received snapshots (fs@name) whose content
  // is altered
  final List<String> verifyLog = Collections.synchronizedList(new ArrayList<>());
  final Map<String, String> alteredContent = new LinkedHashMap<>();
  // the receiver is an older zrepl4j (or zrepl): it has no verify endpoint
  volatile boolean receiverWithoutVerify;

  private static VerifyFacts facts(
      VerifyRequest request, List<FsVersion> versions, Map<String, String> altered, boolean raw) {
    var out = new ArrayList<VerifyFacts.Snapshot>();
    for (var v : versions) {
      if (v.isSnapshot() && request.snapshots().contains(v.name())) {
        boolean digest = request.digests().contains(v.name());
        var content =
            altered.getOrDefault(request.filesystem() + "@" + v.name(), "content-" + v.guid());
        out.add(
            new VerifyFacts.Snapshot(
                v.name(), v.guid(), -1, digest ? content : null, digest ? 100 : 0));
      }
    }
    return new VerifyFacts(request.filesystem(), raw, out, false, List.of(), false, "");
  }

  // --------------------------------------------------------------------------------- set-up

  synchronized MemoryPools filesystem(String fs) {
    sender.putIfAbsent(fs, new ArrayList<>());
    return this;
  }

  /** Snapshots {@code fs@name} on the sender; creation time {@code epoch} seconds. */
  synchronized FsVersion snapshot(String fs, String name, long epoch) {
    var v =
        new FsVersion(
            FsVersion.SNAPSHOT, name, guids += 7919, senderTxg++, Instant.ofEpochSecond(epoch));
    sender.computeIfAbsent(fs, k -> new ArrayList<>()).add(v);
    return v;
  }

  /** Snapshots on the receiver (its own snapshot: a divergence). */
  synchronized FsVersion receiverSnapshot(String fs, String name) {
    var r = receiver.computeIfAbsent(fs, k -> new RecvFs());
    var v = new FsVersion(FsVersion.SNAPSHOT, name, guids += 7919, receiverTxg++, Instant.EPOCH);
    r.versions.add(v);
    return v;
  }

  synchronized void fault(String fs, Fault... f) {
    faults.computeIfAbsent(fs, k -> new ArrayList<>()).addAll(List.of(f));
  }

  synchronized void completionFault(String fs, Fault... f) {
    completionFaults.computeIfAbsent(fs, k -> new ArrayList<>()).addAll(List.of(f));
  }

  synchronized List<String> receiverSnapshots(String fs) {
    var r = receiver.get(fs);
    return r == null ? List.of() : r.versions.stream().map(FsVersion::name).toList();
  }

  // per filesystem, the size its sender estimates for any step (none: -1, as zfs-fuse)
  final Map<String, Long> estimates = new LinkedHashMap<>();
  final List<String> sendDryLog = new ArrayList<>();
  final java.util.concurrent.atomic.AtomicInteger estimatesInFlight =
      new java.util.concurrent.atomic.AtomicInteger();
  final java.util.concurrent.atomic.AtomicInteger estimatesInFlightMax =
      new java.util.concurrent.atomic.AtomicInteger();

  Replication.Connector connector() {
    return () -> {
      connects.incrementAndGet();
      return new Replication.Connection(new Sender(), new Receiver(), () -> {});
    };
  }

  // --------------------------------------------------------------------------------- sender

  final class Sender implements SenderApi {
    @Override
    public List<FsInfo> listFilesystems() {
      synchronized (MemoryPools.this) {
        return sender.keySet().stream().map(fs -> new FsInfo(fs, false, "")).toList();
      }
    }

    @Override
    public List<FsVersion> listVersions(FsRequest request) throws IOException {
      synchronized (MemoryPools.this) {
        return List.copyOf(versionsOf(request.filesystem()));
      }
    }

    @Override
    public List<FsVersionList> listVersionsOf(FsListRequest request) throws IOException {
      senderListVersionsCalls.incrementAndGet();
      synchronized (MemoryPools.this) {
        var out = new ArrayList<FsVersionList>();
        for (var fs : request.filesystems()) {
          out.add(new FsVersionList(fs, versionsOf(fs)));
        }
        return out;
      }
    }

    private List<FsVersion> versionsOf(String fs) throws RemoteException {
      var v = sender.get(fs);
      if (v == null) {
        throw new RemoteException(ErrorCode.INVALID_ARGUMENT, "no such filesystem " + fs);
      }
      return v;
    }

    @Override
    public InputStream send(SendSpec spec) throws IOException {
      Fault f;
      List<FsVersion> carried = new ArrayList<>();
      synchronized (MemoryPools.this) {
        sendLog.add(spec.filesystem() + " " + describe(spec));
        timeline.add("sent " + spec.filesystem());
        var fl = faults.getOrDefault(spec.filesystem(), new ArrayList<>());
        f = fl.isEmpty() ? null : fl.removeFirst();
        var versions = versionsOf(spec.filesystem());
        int to = indexOf(versions, spec.to().guid());
        if (to < 0) {
          throw new RemoteException(ErrorCode.NOT_FOUND, "no snapshot " + spec.to());
        }
        var from = spec.from();
        if (from != null && spec.intermediates()) {
          int fi = indexOf(versions, from.guid());
          if (fi < 0) {
            throw new RemoteException(ErrorCode.NOT_FOUND, "no version " + from);
          }
          for (var v : versions.subList(fi + 1, to + 1)) {
            if (v.isSnapshot()) {
              carried.add(v);
            }
          }
        } else {
          carried.add(versions.get(to));
        }
      }
      if (f == Fault.CONNECTION_LOST) {
        throw new IOException("connection reset (injected)");
      }
      if (f == Fault.SEND_REFUSED) {
        throw new RemoteException(ErrorCode.INTERNAL, "zfs send failed (injected)");
      }
      var sb = new StringBuilder();
      sb.append(spec.from() == null ? 0 : spec.from().guid()).append('\n');
      for (var v : carried) {
        sb.append(v.name())
            .append(' ')
            .append(v.guid())
            .append(' ')
            .append(v.creation().getEpochSecond())
            .append('\n');
      }
      sb.append("END\n");
      var bytes = sb.toString().getBytes(StandardCharsets.UTF_8);
      if (f == Fault.STREAM_CUT) {
        var half = java.util.Arrays.copyOf(bytes, bytes.length / 2);
        return new InputStream() {
          final InputStream in = new ByteArrayInputStream(half);

          @Override
          public int read() throws IOException {
            int b = in.read();
            if (b < 0) {
              throw new IOException("stream cut (injected)");
            }
            return b;
          }
        };
      }
      return new ByteArrayInputStream(bytes);
    }

    @Override
    public SizeEstimate sendDry(SendSpec spec) throws IOException {
      Long size;
      synchronized (MemoryPools.this) {
        sendDryLog.add(spec.filesystem() + " " + describe(spec));
        size = estimates.get(spec.filesystem());
      }
      if (size == null) {
        return new SizeEstimate(-1);
      }
      int now = estimatesInFlight.incrementAndGet();
      estimatesInFlightMax.accumulateAndGet(now, Math::max);
      try {
        // held a little, so that estimates allowed to overlap do
        Thread.sleep(30);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("interrupted in sendDry");
      } finally {
        estimatesInFlight.decrementAndGet();
      }
      return new SizeEstimate(size);
    }

    @Override
    public void sendCompleted(SendCompleted done) throws IOException {
      var gate = completionGates.get(done.filesystem());
      if (gate != null) {
        try {
          if (!gate.await(30, java.util.concurrent.TimeUnit.SECONDS)) {
            throw new IOException("completion gate never opened (test)");
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new java.io.InterruptedIOException("interrupted at the completion gate");
        }
      }
      Fault f;
      synchronized (MemoryPools.this) {
        var fl = completionFaults.getOrDefault(done.filesystem(), new ArrayList<>());
        f = fl.isEmpty() ? null : fl.removeFirst();
      }
      if (f == Fault.CONNECTION_LOST) {
        throw new IOException("connection reset (injected)");
      }
      if (f != null && f != Fault.NONE) {
        throw new RemoteException(ErrorCode.INTERNAL, "sender failed (injected)");
      }
      completed.add(done);
    }

    @Override
    public void protectAll(SendSpecBatch batch) throws RemoteException {
      if (!batchedCompletions) {
        throw new RemoteException(ErrorCode.NOT_FOUND, "unregistered endpoint sender.ProtectAll");
      }
      boolean later = !protectBatches.isEmpty() && laterProtectMillis > 0;
      protectBatches.add(batch.specs().size());
      if (later) {
        try {
          Thread.sleep(laterProtectMillis);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new RemoteException(ErrorCode.UNAVAILABLE, "interrupted");
        }
      }
      timeline.add("protected " + batch.specs().size());
    }

    /** One by one, as the real sender checks them all first: a fault fails the whole call. */
    @Override
    public void sendCompletedAll(SendCompletedBatch batch) throws IOException {
      if (!batchedCompletions) {
        throw new RemoteException(
            ErrorCode.NOT_FOUND, "unregistered endpoint sender.SendCompletedAll");
      }
      completionBatches.add(batch.completions().size());
      for (var d : batch.completions()) {
        sendCompleted(d);
      }
      completionEvents.add("sender completed " + batch.completions().size());
      timeline.add("completed " + batch.completions().size());
    }

    /** Cursors are not modelled in memory: counted and ordered in {@link #completionEvents}. */
    @Override
    public void holdCursorsAll(SendCompletedBatch batch) throws RemoteException {
      if (!batchedCompletions || senderWithoutCursorsAhead) {
        throw new RemoteException(
            ErrorCode.NOT_FOUND, "unregistered endpoint sender.HoldCursorsAll");
      }
      completionEvents.add("cursors " + batch.completions().size());
    }

    @Override
    public PruneResult prune(PruneRequest request) {
      throw new UnsupportedOperationException("pruning is not modelled in memory");
    }

    /** guid, no size (as zfs-fuse), and the digest "content-<guid>" of the asked ones. */
    @Override
    public VerifyFacts verify(VerifyRequest request) {
      synchronized (MemoryPools.this) {
        verifyLog.add("sender " + request.filesystem() + " " + request.digests());
        return facts(
            request, sender.getOrDefault(request.filesystem(), List.of()), Map.of(), false);
      }
    }
  }

  private static String describe(SendSpec s) {
    var to = s.to().name();
    if (!s.resumeToken().isEmpty()) {
      return "resume " + to;
    }
    var from = s.from();
    return from == null
        ? "full " + to
        : (s.intermediates() ? "-I " : "-i ") + from.name() + " " + to;
  }

  private static int indexOf(List<FsVersion> vs, long guid) {
    for (int i = vs.size() - 1; i >= 0; i--) {
      if (vs.get(i).guid() == guid && vs.get(i).isSnapshot()) {
        return i;
      }
    }
    for (int i = vs.size() - 1; i >= 0; i--) {
      if (vs.get(i).guid() == guid) {
        return i;
      }
    }
    return -1;
  }

  // --------------------------------------------------------------------------------- receiver

  final class Receiver implements ReceiverApi {
    @Override
    public FsListRequest mapped(FsListRequest request) {
      return request; // no mapping
    }

    @Override
    public List<FsInfo> listFilesystems() {
      synchronized (MemoryPools.this) {
        var out = new ArrayList<FsInfo>();
        receiver.forEach((fs, r) -> out.add(new FsInfo(fs, r.placeholder, r.token)));
        return out;
      }
    }

    @Override
    public List<FsVersionList> listVersionsOf(FsListRequest request) {
      receiverListVersionsCalls.incrementAndGet();
      synchronized (MemoryPools.this) {
        var out = new ArrayList<FsVersionList>();
        for (var fs : request.filesystems()) {
          var r = receiver.get(fs);
          out.add(new FsVersionList(fs, r == null ? List.of() : List.copyOf(r.versions)));
        }
        return out;
      }
    }

    /** Renames are not modelled in memory. */
    @Override
    public void renameReceived(ReceivedRename rename) {
      throw new UnsupportedOperationException("renames are not modelled in memory");
    }

    /** Holds are not modelled in memory: checks that the base is there, as the real one does. */
    @Override
    public void confirmReceived(ReceivedBase base) {
      synchronized (MemoryPools.this) {
        var r = receiver.get(base.filesystem());
        if (r == null || r.versions.stream().noneMatch(v -> v.guid() == base.snapshot().guid())) {
          throw new IllegalStateException("no base " + base + " on the receiver");
        }
      }
    }

    @Override
    public void confirmReceivedAll(ReceivedBaseBatch batch) throws RemoteException {
      if (!batchedCompletions) {
        throw new RemoteException(
            ErrorCode.NOT_FOUND, "unregistered endpoint receiver.ConfirmReceivedAll");
      }
      receiverBatches.add(batch.bases().size());
      for (var b : batch.bases()) {
        confirmReceived(b);
      }
      completionEvents.add("receiver confirmed " + batch.bases().size());
    }

    /** As {@link #confirmReceivedAll}, counted in {@link #receiverHoldsAhead}. */
    @Override
    public void holdReceivedAll(ReceivedBaseBatch batch) throws RemoteException {
      if (!batchedCompletions || receiverWithoutHoldAhead) {
        receiverHoldsAheadRefused.incrementAndGet();
        throw new RemoteException(
            ErrorCode.NOT_FOUND, "unregistered endpoint receiver.HoldReceivedAll");
      }
      receiverHoldsAhead.add(batch.bases().size());
      for (var b : batch.bases()) {
        confirmReceived(b);
      }
      completionEvents.add("receiver held " + batch.bases().size());
    }

    @Override
    public PruneResult prune(PruneRequest request) {
      throw new UnsupportedOperationException("pruning is not modelled in memory");
    }

    /** As the sender's; a received snapshot named in {@link #alteredContent} digests otherwise. */
    @Override
    public VerifyFacts verify(VerifyRequest request) throws RemoteException {
      synchronized (MemoryPools.this) {
        if (receiverWithoutVerify) {
          // what our RpcServer answers for a method the peer does not serve
          throw new RemoteException(ErrorCode.NOT_FOUND, "unregistered endpoint receiver.Verify");
        }
        verifyLog.add("receiver " + request.filesystem() + " " + request.digests());
        var r = receiver.get(request.filesystem());
        return facts(request, r == null ? List.of() : r.versions, alteredContent, request.raw());
      }
    }

    @Override
    public ReceiveResult receive(ReceiveSpec spec, InputStream stream) throws IOException {
      var fs = spec.filesystem();
      byte[] all;
      try {
        all = stream.readAllBytes();
      } catch (IOException e) {
        synchronized (MemoryPools.this) {
          if (resumable) {
            var r = receiver.computeIfAbsent(fs, k -> new RecvFs());
            var from = spec.from();
            r.token =
                Tokens.token(
                    from == null ? 0 : from.guid(), spec.to().guid(), fs + "@" + spec.to().name());
          }
        }
        throw e;
      }
      var lines = new String(all, StandardCharsets.UTF_8).split("\n");
      if (!lines[lines.length - 1].equals("END")) {
        throw new IOException("truncated stream");
      }
      synchronized (MemoryPools.this) {
        var r = receiver.get(fs);
        long base = Long.parseLong(lines[0]);
        boolean replaced = false;
        if (base == 0) {
          if (r != null
              && !r.placeholder
              && (!r.versions.isEmpty() || !spec.resuming() && !r.token.isEmpty())) {
            throw new RemoteException(
                ErrorCode.FAILED_PRECONDITION, fs + " exists (full receive without -F)");
          }
          replaced = r != null && r.placeholder;
          if (r == null) {
            createParents(DatasetPath.parse(fs).parent());
            r = new RecvFs();
            receiver.put(fs, r);
          }
          r.placeholder = false;
        } else {
          if (r == null || r.versions.isEmpty() || r.versions.getLast().guid() != base) {
            throw new RemoteException(
                ErrorCode.FAILED_PRECONDITION,
                fs
                    + ": destination has been modified since the incremental source (base "
                    + base
                    + ", has "
                    + (r == null ? "nothing" : r.versions)
                    + ")");
          }
        }
        if (spec.resuming() != !r.token.isEmpty()) {
          throw new RemoteException(ErrorCode.FAILED_PRECONDITION, fs + ": resuming mismatch");
        }
        r.token = "";
        for (int i = 1; i < lines.length - 1; i++) {
          var p = lines[i].split(" ");
          r.versions.add(
              new FsVersion(
                  FsVersion.SNAPSHOT,
                  p[0],
                  Long.parseLong(p[1]),
                  receiverTxg++,
                  Instant.ofEpochSecond(Long.parseLong(p[2]))));
        }
        return new ReceiveResult("sink/" + fs, all.length, replaced);
      }
    }

    private void createParents(DatasetPath p) {
      if (p.isEmpty() || receiver.containsKey(p.toString())) {
        return;
      }
      createParents(p.parent());
      var r = new RecvFs();
      r.placeholder = true;
      receiver.put(p.toString(), r);
    }
  }

  /** Versions matching {@code p}. */
  static List<FsVersion> only(List<FsVersion> vs, Predicate<FsVersion> p) {
    return vs.stream().filter(p).toList();
  }

  static @Nullable FsVersion newest(List<FsVersion> vs) {
    return vs.isEmpty() ? null : vs.getLast();
  }
}
