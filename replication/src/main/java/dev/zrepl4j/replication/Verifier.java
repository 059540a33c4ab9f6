package dev.zrepl4j.replication;

import dev.zrepl4j.replication.pruning.PruneContext;
import dev.zrepl4j.replication.pruning.PruneRule;
import dev.zrepl4j.rpc.ErrorCode;
import dev.zrepl4j.rpc.RemoteException;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code zrepl4j verify}: compares every snapshot a job's receiver holds with the sender's.
 *
 * <ul>
 *   <li><b>Identity:</b> a received snapshot must be a snapshot (or bookmark) of the sender with
 *       the same guid; one whose name the sender has with another guid is a problem; one the sender
 *       no longer has is counted as unchecked.
 *   <li><b>Size:</b> where both sides have {@code logicalreferenced} (OpenZFS), it must be equal
 *       but for what metadata may differ ({@link #sameSize}; the logical size does not depend on
 *       either pool's compression or layout).
 *   <li><b>Content,</b> for a sample of snapshots per filesystem (the newest and {@code sample - 1}
 *       more at random): each side runs a full {@code zfs send} of the snapshot and digests it
 *       ({@link dev.zrepl4j.zfs.SendStreamDigest}); only the digests cross the network. A send, not
 *       files read through {@code .zfs/snapshot}: a backup copy is often not mounted and its key
 *       not loaded (raw receives), and a send reads the same blocks {@code zfs recv} wrote. Raw
 *       sends where the job sends raw (the ciphertext is compared, no key is needed).
 *   <li><b>Missing:</b> a sender snapshot between the copy's oldest and newest snapshot that the
 *       copy lacks was received and is gone; it is a problem if the job's {@code keep_receiver}
 *       rules keep it (with the copy's snapshots), a note if only a {@code grid} keeps it now (the
 *       grid may have thinned it earlier).
 *   <li><b>Properties:</b> where the copy received properties ({@code send.properties}), one set on
 *       the copy by hand to another value than the sender's (not by the receiver's {@code
 *       recv.properties.override}).
 * </ul>
 *
 * Nothing is changed on either side. Thread-safe (each call is independent).
 */
public final class Verifier {
  private static final Logger log = LoggerFactory.getLogger(Verifier.class);

  private Verifier() {}

  /** The most snapshots per filesystem whose content one verify compares ({@code --sample}). */
  public static final int MAX_SAMPLE = VerifySide.MAX_DIGESTS;

  /**
   * @param sample content checks per filesystem (0: none)
   * @param seed the random choice of the sampled snapshots beyond the newest
   * @param keepReceiver the job's {@code keep_receiver} rules
   */
  public record Options(int sample, long seed, List<PruneRule> keepReceiver) {
    public Options {
      if (sample < 0) {
        throw new IllegalArgumentException("sample must be 0 or more: " + sample);
      }
      keepReceiver = List.copyOf(keepReceiver);
    }
  }

  /**
   * Verifies every filesystem the sender shows that has a copy on the receiver.
   *
   * @throws IOException if a side cannot be listed (a side that does not know {@code verify}: an
   *     older zrepl4j or zrepl, said so)
   */
  public static VerifyReport run(String job, Replication.Connection c, Options options, Clock clock)
      throws IOException {
    var started = clock.instant();
    var filesystems = new ArrayList<String>();
    for (var f : c.sender().listFilesystems()) {
      if (!f.placeholder()) {
        filesystems.add(f.path());
      }
    }
    Collections.sort(filesystems);
    var request = new FsListRequest(filesystems);
    var senders = byFs(c.sender().listVersionsOf(request));
    var receivers = byFs(c.receiver().listVersionsOf(request));
    var totals = new Totals();
    var random = new Random(options.seed());
    try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (var fs : filesystems) {
        var rs =
            receivers.getOrDefault(fs, List.of()).stream().filter(FsVersion::isSnapshot).toList();
        if (rs.isEmpty()) {
          continue; // not replicated yet (or a placeholder)
        }
        totals.filesystems++;
        try {
          one(fs, senders.getOrDefault(fs, List.of()), rs, c, options, random, pool, totals);
        } catch (RemoteException e) {
          if (e.code() == ErrorCode.NOT_FOUND
              && String.valueOf(e.getMessage()).contains("unregistered endpoint")) {
            throw new IOException(
                "a side does not know verify (an older zrepl4j, or zrepl): " + e.getMessage(), e);
          }
          totals.problems.add(new VerifyReport.Problem(fs, "error", e.getMessage()));
        } catch (IOException e) {
          totals.problems.add(new VerifyReport.Problem(fs, "error", e.toString()));
        }
      }
    }
    var report =
        new VerifyReport(
            job,
            started.toString(),
            clock.instant().toString(),
            totals.filesystems,
            totals.snapshots,
            totals.unchecked,
            totals.contentChecked,
            totals.contentBytes,
            totals.problems,
            new ArrayList<>(totals.notes));
    log.info(
        "verify {}: {} filesystems, {} snapshots compared, {} by content ({} bytes), {} unchecked, {} problems",
        job,
        report.filesystems(),
        report.snapshots(),
        report.contentChecked(),
        report.contentBytes(),
        report.unchecked(),
        report.problems().size());
    for (var p : report.problems()) {
      log.warn("verify {}: {}: {}: {}", job, p.filesystem(), p.kind(), p.message());
    }
    return report;
  }

  private static final class Totals {
    int filesystems;
    int snapshots;
    int unchecked;
    int contentChecked;
    long contentBytes;
    final List<VerifyReport.Problem> problems = new ArrayList<>();
    final LinkedHashSet<String> notes = new LinkedHashSet<>();
  }

  private static Map<String, List<FsVersion>> byFs(List<FsVersionList> lists) {
    var out = new HashMap<String, List<FsVersion>>();
    for (var l : lists) {
      out.put(l.filesystem(), l.versions());
    }
    return out;
  }

  private static void one(
      String fs,
      List<FsVersion> sender,
      List<FsVersion> received,
      Replication.Connection c,
      Options options,
      Random random,
      ExecutorService pool,
      Totals totals)
      throws IOException {
    var senderSnapshots = new HashMap<Long, FsVersion>();
    var senderBookmarks = new HashMap<Long, FsVersion>();
    var senderByName = new HashMap<String, FsVersion>();
    for (var v : sender) {
      if (v.isSnapshot()) {
        senderSnapshots.put(v.guid(), v);
        senderByName.put(v.name(), v);
      } else {
        senderBookmarks.put(v.guid(), v);
      }
    }
    // received name -> the sender's snapshot with its guid
    var pairs = new LinkedHashMap<String, FsVersion>();
    var receivedGuids = new HashSet<Long>();
    for (var r : received) {
      receivedGuids.add(r.guid());
      var s = senderSnapshots.get(r.guid());
      if (s != null) {
        pairs.put(r.name(), s);
        totals.snapshots++;
      } else if (senderBookmarks.containsKey(r.guid())) {
        totals.snapshots++; // the guid is the sender's (its bookmark); nothing else to compare
      } else {
        var same = senderByName.get(r.name());
        if (same != null) {
          totals.problems.add(
              new VerifyReport.Problem(
                  fs,
                  "guid",
                  "@"
                      + r.name()
                      + " on the receiver has guid "
                      + Long.toUnsignedString(r.guid())
                      + ", the sender's @"
                      + r.name()
                      + " has guid "
                      + Long.toUnsignedString(same.guid())
                      + ": not the snapshot that was sent"));
        } else {
          totals.unchecked++;
        }
      }
    }
    missing(fs, sender, received, pairs, receivedGuids, options, totals);
    if (pairs.isEmpty()) {
      return;
    }
    var senderNames = pairs.values().stream().map(FsVersion::name).toList();
    var receivedNames = List.copyOf(pairs.keySet());
    // the sample: the newest received snapshot the sender has, and more at random
    var sample = new ArrayList<String>();
    if (options.sample() > 0) {
      sample.add(receivedNames.getLast());
      var rest = new ArrayList<>(receivedNames.subList(0, receivedNames.size() - 1));
      Collections.shuffle(rest, random);
      sample.addAll(rest.subList(0, Math.min(rest.size(), options.sample() - 1)));
      if (sample.size() > VerifySide.MAX_DIGESTS) {
        sample = new ArrayList<>(sample.subList(0, VerifySide.MAX_DIGESTS));
      }
    }
    var senderSample = new ArrayList<String>();
    for (var n : sample) {
      senderSample.add(Objects.requireNonNull(pairs.get(n)).name());
    }
    // first the sender without digests: whether its sends are raw decides the receiver's
    var senderFacts = c.sender().verify(new VerifyRequest(fs, senderNames, List.of(), false));
    boolean raw = senderFacts.raw();
    var finalSample = sample;
    Future<VerifyFacts> senderDigests =
        pool.submit(
            () -> c.sender().verify(new VerifyRequest(fs, senderSample, senderSample, raw)));
    Future<VerifyFacts> receiverFacts =
        pool.submit(
            () -> c.receiver().verify(new VerifyRequest(fs, receivedNames, finalSample, raw)));
    VerifyFacts sd;
    VerifyFacts rf;
    try {
      sd = senderDigests.get();
      rf = receiverFacts.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("verify of " + fs + " interrupted");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof IOException io) {
        throw io;
      }
      throw new IllegalStateException(e.getCause());
    }
    var s = new HashMap<String, VerifyFacts.Snapshot>();
    senderFacts.snapshots().forEach(x -> s.put(x.name(), x));
    var sDigest = new HashMap<String, VerifyFacts.Snapshot>();
    sd.snapshots().forEach(x -> sDigest.put(x.name(), x));
    // where the sender stores zero blocks and the receiver makes them holes, sizes differ by those
    boolean holes = !senderFacts.compressed() && rf.compressed();
    if (holes) {
      totals.notes.add(
          fs
              + ": sizes not compared (compression is off on the sender and on on the receiver: zero"
              + " blocks are holes on the copy)");
    }
    boolean sizesCompared = holes;
    for (var r : rf.snapshots()) {
      var pair = pairs.get(r.name());
      if (pair == null) {
        continue;
      }
      var sf = s.get(pair.name());
      var sdf = sDigest.get(pair.name());
      boolean contentMatches = false;
      if (r.digest() != null && sdf != null && sdf.digest() != null) {
        totals.contentChecked++;
        totals.contentBytes += sdf.digestBytes();
        contentMatches = r.digest().equals(sdf.digest());
        if (!contentMatches) {
          totals.problems.add(
              new VerifyReport.Problem(
                  fs,
                  "content",
                  "@"
                      + r.name()
                      + ": the content differs from the sender's ("
                      + (raw ? "raw " : "")
                      + "zfs send digests "
                      + shortHash(r.digest())
                      + " on the receiver, "
                      + shortHash(sdf.digest())
                      + " on the sender, "
                      + r.digestBytes()
                      + " and "
                      + sdf.digestBytes()
                      + " bytes)"));
        }
      }
      if (!holes && sf != null && sf.logicalReferenced() >= 0 && r.logicalReferenced() >= 0) {
        sizesCompared = true;
        // the same content is the stronger evidence: sizes then differ by metadata alone
        if (!contentMatches && !sameSize(sf.logicalReferenced(), r.logicalReferenced())) {
          totals.problems.add(
              new VerifyReport.Problem(
                  fs,
                  "size",
                  "@"
                      + r.name()
                      + " has logicalreferenced "
                      + r.logicalReferenced()
                      + " on the receiver, "
                      + sf.logicalReferenced()
                      + " on the sender (more than metadata can explain)"));
        }
      }
    }
    if (!sizesCompared) {
      totals.notes.add(
          "sizes not compared where a side has no logicalreferenced (zfs-fuse; referenced depends"
              + " on each pool's layout)");
    }
    properties(fs, senderFacts, rf, totals);
    if (!rf.origin().isEmpty()) {
      totals.problems.add(
          new VerifyReport.Problem(
              fs,
              "clone",
              "the copy is a clone of "
                  + rf.origin()
                  + ": a clone of it was promoted, and the snapshots up to that origin belong to the"
                  + " clone now"));
    }
  }

  /**
   * Whether two {@code logicalreferenced} are the same data: the metadata blocks of a copy and its
   * source may differ a little (seen: 1.5 KiB of 3 MiB for a raw-received encrypted filesystem), so
   * up to {@link #SIZE_SLACK} bytes or 0.5 %, whichever is more; a lost file of that size or less
   * is left to the content check.
   */
  static boolean sameSize(long a, long b) {
    long d = Math.abs(a - b);
    return d <= Math.max(SIZE_SLACK, Math.max(a, b) / 200);
  }

  /** The difference in {@code logicalreferenced} that metadata alone may make. */
  static final long SIZE_SLACK = 128 << 10;

  private static String shortHash(@Nullable String h) {
    return h == null ? "-" : h.substring(0, Math.min(16, h.length()));
  }

  /** A received value overridden on the copy by hand (not by the receiver's configuration). */
  private static void properties(
      String fs, VerifyFacts sender, VerifyFacts receiver, Totals totals) {
    if (!receiver.receivedProperties()) {
      return; // no -p: the copy's properties are the receiver's own choice
    }
    var sent = new HashMap<String, String>();
    for (var p : sender.properties()) {
      sent.put(p.name(), p.value());
    }
    for (var p : receiver.properties()) {
      var value = sent.get(p.name());
      if (value != null && !value.equals(p.value())) {
        totals.problems.add(
            new VerifyReport.Problem(
                fs,
                "property",
                p.name()
                    + " is "
                    + p.value()
                    + " on the receiver (set there), "
                    + value
                    + " on the sender"));
      }
    }
  }

  /**
   * Sender snapshots between the copy's oldest and newest received snapshot (by the sender's
   * createtxg) that the copy lacks: they were received and are gone.
   */
  private static void missing(
      String fs,
      List<FsVersion> sender,
      List<FsVersion> received,
      Map<String, FsVersion> pairs,
      Set<Long> receivedGuids,
      Options options,
      Totals totals) {
    if (pairs.size() < 2) {
      return;
    }
    var receivedNames = new HashSet<String>();
    received.forEach(r -> receivedNames.add(r.name()));
    long lo = Long.MAX_VALUE;
    long hi = Long.MIN_VALUE;
    for (var s : pairs.values()) {
      lo = Math.min(lo, s.createTxg());
      hi = Math.max(hi, s.createTxg());
    }
    var path = DatasetPath.parse(fs);
    var kept = new ArrayList<FilesystemVersion>();
    for (var s : pairs.values()) {
      kept.add(version(path, s));
    }
    var withoutGrid =
        options.keepReceiver().stream().filter(r -> !(r instanceof PruneRule.Grid)).toList();
    for (var s : sender) {
      if (!s.isSnapshot()
          || receivedGuids.contains(s.guid())
          || receivedNames.contains(s.name()) // another snapshot of that name: a guid problem
          || s.createTxg() <= lo
          || s.createTxg() >= hi) {
        continue;
      }
      var candidate = version(path, s);
      var set = new ArrayList<>(kept);
      set.add(candidate);
      set.sort(Comparator.comparingLong(FilesystemVersion::createTxg));
      if (keeps(withoutGrid, set, candidate)) {
        totals.problems.add(
            new VerifyReport.Problem(
                fs,
                "missing",
                "@"
                    + s.name()
                    + " (guid "
                    + Long.toUnsignedString(s.guid())
                    + ") was received and is gone from the receiver, although keep_receiver keeps"
                    + " it: destroyed there"));
      } else if (keeps(options.keepReceiver(), set, candidate)) {
        totals.notes.add(
            fs
                + "@"
                + s.name()
                + " is gone from the receiver; only a grid rule keeps it now, and the grid may have"
                + " thinned it before");
      }
    }
  }

  private static boolean keeps(
      List<PruneRule> rules, List<FilesystemVersion> set, FilesystemVersion candidate) {
    for (var r : rules) {
      if (r.keep(set, PruneContext.NONE).contains(candidate)) {
        return true;
      }
    }
    return false;
  }

  private static FilesystemVersion version(DatasetPath fs, FsVersion v) {
    return new FilesystemVersion(
        fs,
        VersionType.SNAPSHOT,
        v.name(),
        v.guid(),
        v.createTxg(),
        v.creation(),
        FilesystemVersion.UNKNOWN_USERREFS);
  }
}
