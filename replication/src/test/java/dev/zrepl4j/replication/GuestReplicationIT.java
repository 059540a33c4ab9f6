package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.replication.Replication.FsReport.State;
import dev.zrepl4j.replication.filter.DatasetFilter;
import dev.zrepl4j.replication.pruning.PruneRuleSpec;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.RealZfs;
import dev.zrepl4j.zfs.ResumeToken;
import dev.zrepl4j.zfs.Zfs;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The replication scenarios that need OpenZFS 2.x (bookmarks, resumable receive, encryption), end
 * to end against the OpenZFS 2.3 guest of {@code scripts/zfs-guest.sh}: the engine runs here, push
 * over a real {@link RpcServer} on 127.0.0.1 TCP, and both sides' {@code zfs} run in the guest
 * (pools {@code rsrc} and {@code rdst}, created and destroyed by this class). Each test works in
 * its own datasets and job. Data is a few MiB: streams cross an emulated machine at ~12 MB/s. Files
 * are compared by sha256 of read-only mounts of the snapshots on both sides.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class GuestReplicationIT {
  private static final String SRC = "rsrc";
  private static final String DST = "rdst";
  private static final String CLIENT = "client1";
  private static final String KEY_FILE = "/root/rrepl.key";
  private static final DatasetPath SINK = DatasetPath.parse(DST + "/sink");

  private static GuestFixture guest;
  private static RealZfs zfs;

  private final List<AutoCloseable> closeLater = new ArrayList<>();

  @BeforeAll
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  static void pools() throws IOException {
    guest = GuestFixture.fromEnvironment();
    guest.createPool(SRC);
    guest.createPool(DST);
    zfs = guest.realZfs();
    zfs.create(SINK, Map.of());
    guest.sh("head -c 32 /dev/urandom > " + KEY_FILE);
  }

  @AfterAll
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  static void destroyPools() {
    if (guest != null) {
      guest.destroyPoolIfExists(SRC);
      guest.destroyPoolIfExists(DST);
      guest.exec("rm", "-f", KEY_FILE);
    }
  }

  @AfterEach
  void close() throws Exception {
    for (var c : closeLater.reversed()) {
      c.close();
    }
  }

  // ----------------------------------------------------------------------------------- helpers

  private static String src(String name) {
    return SRC + "/" + name;
  }

  /** Where the sink puts the sender's {@code fs}: {@code rdst/sink/client1/fs}. */
  private static String target(String fs) {
    return SINK + "/" + CLIENT + "/" + fs;
  }

  private static Replication.Config once(String job) {
    return Replication.Config.defaults(job).withRetries(1, Duration.ZERO);
  }

  /**
   * A push of {@code job}: the sender here, the sink's receiver behind an RpcServer on 127.0.0.1
   * TCP (through {@code proxy}'s port if one is given: it is created for the listener).
   */
  private Push push(
      String job,
      Predicate<DatasetPath> filter,
      SenderOptions senderOptions,
      DatasetPath root,
      ReceiverOptions receiverOptions,
      TcpProxy @Nullable [] proxy)
      throws IOException {
    var server = new RpcServer(RpcOptions.defaults());
    server.register(
        "receiver", new ReceiverEndpoint(zfs, root, Receiver.Mode.SINK, job, receiverOptions));
    var l = server.listenTcp(new InetSocketAddress("127.0.0.1", 0), peer -> Optional.of(CLIENT));
    closeLater.add(server);
    closeLater.add(l);
    int port = l.port();
    if (proxy != null) {
      proxy[0] = new TcpProxy(port);
      closeLater.add(proxy[0]);
      port = proxy[0].port();
    }
    var push =
        new Push(
            new Sender(zfs, filter, job, senderOptions),
            job,
            Dialer.tcp("127.0.0.1", port, Duration.ofSeconds(5), RpcOptions.defaults()));
    closeLater.add(push);
    return push;
  }

  private Push push(String job, Predicate<DatasetPath> filter) throws IOException {
    return push(job, filter, SenderOptions.PLAIN, SINK, ReceiverOptions.DEFAULTS, null);
  }

  /**
   * Creates {@code fs} with a file of {@code megabytes}, snapshots it as s1 and pushes it with a
   * new push job that replicates only it.
   */
  private Push pushedOnce(String job, String fs, int megabytes) throws Exception {
    zfs.create(DatasetPath.parse(fs), Map.of());
    guest.writeRandom("/" + fs + "/file.bin", megabytes);
    snapshot("s1", fs);
    var push = push(job, p -> p.toString().equals(fs));
    assertThat(push.run(once(job), Replication.Progress.none()).ok()).isTrue();
    return push;
  }

  /** Records the steps the engine transferred, per filesystem, in order. */
  private static final class Steps implements Replication.Progress {
    final List<Map.Entry<String, Step>> seen = new CopyOnWriteArrayList<>();

    @Override
    public void transferred(String filesystem, Step step, long bytes) {
      var e = Map.entry(filesystem, step);
      if (seen.isEmpty() || !seen.getLast().equals(e)) {
        seen.add(e);
      }
    }

    // per filesystem, its last step's final progress
    final Map<String, Replication.StepProgress> done =
        new java.util.concurrent.ConcurrentHashMap<>();

    @Override
    public void stepDone(Replication.StepProgress last) {
      done.put(last.filesystem(), last);
    }

    List<Step> of(String fs) {
      return seen.stream().filter(e -> e.getKey().equals(fs)).map(Map.Entry::getValue).toList();
    }
  }

  /** The cursor bookmark name of {@code job} at snapshot {@code snap}, from its guid. */
  private static String cursor(String snap, String job) {
    long guid = Long.parseUnsignedLong(guest.prop(snap, "guid"));
    return "#zrepl_CURSOR_G_" + HexFormat.of().toHexDigits(guid) + "_J_" + job;
  }

  /**
   * Runs {@code push} once, cutting every connection through {@code proxy} after 6 MiB of the
   * stream; asserts that {@code fs} failed and returns the resume token its receive left.
   */
  private static ResumeToken cutMidway(Push push, TcpProxy proxy, String job, String fs)
      throws Exception {
    return cutMidway(push, proxy, once(job), fs);
  }

  private static ResumeToken cutMidway(
      Push push, TcpProxy proxy, Replication.Config config, String fs) throws Exception {
    var cut = new AtomicBoolean();
    Replication.Progress cutter =
        (f, step, bytes) -> {
          if (bytes > (6 << 20) && cut.compareAndSet(false, true)) {
            // Up to a few MiB are in flight (socket buffers, the ssh channel to the guest): let
            // the sink's zfs recv take them in, so that the partial receive kept some data.
            try {
              Thread.sleep(2000);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            proxy.cutAll();
          }
        };
    var r = push.run(config, cutter);
    assertThat(cut).isTrue();
    assertThat(r.of(fs).state()).as(r.toString()).isEqualTo(State.FAILED);

    // the sink's zfs recv -s ends when its stream does: it leaves a resume token
    var target = target(fs);
    var token = "-";
    for (long end = System.nanoTime() + 30_000_000_000L;
        token.equals("-") && System.nanoTime() < end; ) {
      Thread.sleep(200);
      token = guest.prop(target, "receive_resume_token");
    }
    assertThat(token).as("receive_resume_token of %s", target).isNotEqualTo("-");
    return ResumeToken.decode(token);
  }

  private static void assertSameFiles(String sourceSnapshot, String targetSnapshot) {
    var expected = guest.snapshotChecksums(sourceSnapshot);
    assertThat(expected).as("files in %s", sourceSnapshot).isNotBlank();
    assertThat(guest.snapshotChecksums(targetSnapshot)).isEqualTo(expected);
  }

  /** Creates {@code fs} as an encryption root with the raw key in {@link #KEY_FILE}. */
  private static void createEncrypted(String fs) throws IOException {
    zfs.create(
        DatasetPath.parse(fs),
        Map.of(
            "encryption", "aes-256-gcm",
            "keyformat", "raw",
            "keylocation", "file://" + KEY_FILE));
  }

  private static void snapshot(String name, String... filesystems) throws IOException {
    var fss = new ArrayList<DatasetPath>();
    for (var fs : filesystems) {
      fss.add(DatasetPath.parse(fs));
    }
    zfs.snapshot(fss, name);
  }

  /** One step of {@code sender} from snapshot {@code from} (null: full) to {@code to}. */
  private static void step(
      Sender sender, ReceiverApi receiver, DatasetPath fs, @Nullable String from, String to)
      throws IOException {
    SenderReceiverIT.step(
        sender,
        receiver,
        fs,
        from == null ? null : SenderReceiverIT.version(sender, fs, from),
        SenderReceiverIT.version(sender, fs, to));
  }

  // ------------------------------------------------------------------------------------ verify

  private static VerifyReport verify(Push push, String job, int sample) throws IOException {
    try (var c = push.connect()) {
      return Verifier.run(
          job,
          c,
          new Verifier.Options(sample, 7, List.of(PruneRuleSpec.lastN(10, "").toRule())),
          Clock.systemUTC());
    }
  }

  private static List<String> kinds(VerifyReport r) {
    return r.problems().stream().map(VerifyReport.Problem::kind).sorted().toList();
  }

  /**
   * {@code zrepl4j verify} on OpenZFS: an intact copy (sent with {@code -p}) matches by guid,
   * logicalreferenced and content; then the copy is damaged three ways and each is reported: a
   * property set on it by hand, a snapshot destroyed on it, and a clone of it with an altered file
   * promoted (first the copy itself becomes a clone, then the clone takes the copy's name with a
   * snapshot named like the sender's next one).
   */
  @Test
  void verifyFindsAHandSetPropertyADestroyedSnapshotAndAPromotedAlteredClone() throws Exception {
    var job = "gver";
    var fs = src("ver");
    zfs.create(DatasetPath.parse(fs), Map.of("compression", "off", "com.example:owner", "alice"));
    guest.writeRandom("/" + fs + "/a.bin", 1);
    guest.sh("head -c 1048576 /dev/zero > /" + fs + "/zeros.bin");
    snapshot("v1", fs);
    var push =
        push(
            job,
            p -> p.toString().equals(fs),
            new SenderOptions(false, false, false, false, false, true),
            SINK,
            ReceiverOptions.DEFAULTS,
            null);
    assertThat(push.run(once(job), Replication.Progress.none()).of(fs).state())
        .isEqualTo(State.REPLICATED);
    for (int i = 2; i <= 4; i++) {
      guest.writeRandom("/" + fs + "/f" + i + ".bin", 1);
      snapshot("v" + i, fs);
    }
    var r = push.run(once(job), Replication.Progress.none());
    assertThat(r.of(fs).state()).as(r.toString()).isEqualTo(State.REPLICATED);
    var t = target(fs);
    assertThat(guest.versions(t)).containsExactly("@v1", "@v2", "@v3", "@v4");
    assertThat(guest.prop(t, "com.example:owner")).isEqualTo("alice");

    var intact = verify(push, job, 4);
    assertThat(intact.problems()).as(intact.toString()).isEmpty();
    assertThat(intact.snapshots()).isEqualTo(4);
    assertThat(intact.contentChecked()).isEqualTo(4);
    assertThat(intact.contentBytes()).isGreaterThan(4L << 20);
    assertThat(intact.notes()).noneMatch(n -> n.contains("sizes not compared"));

    // 1. a property set on the copy by hand
    guest.zfs("set", "com.example:owner=mallory", t).ok();
    var property = verify(push, job, 0);
    assertThat(kinds(property)).as(property.toString()).containsExactly("property");
    assertThat(property.problems().getFirst().message())
        .contains("com.example:owner")
        .contains("mallory")
        .contains("alice");
    guest.zfs("inherit", "-S", "com.example:owner", t).ok();
    assertThat(verify(push, job, 0).problems()).isEmpty();

    // 2. a snapshot destroyed on the copy (keep_receiver last_n 10 keeps it)
    guest.zfs("destroy", t + "@v2").ok();
    var destroyed = verify(push, job, 1);
    assertThat(kinds(destroyed)).as(destroyed.toString()).containsExactly("missing");
    assertThat(destroyed.problems().getFirst().message()).contains("@v2");

    // 3. a clone of the copy, a file altered in it, promoted: the copy becomes a clone ...
    var fix = DST + "/fix";
    guest.zfs("clone", t + "@v3", fix).ok();
    guest.sh("printf x | dd of=/" + fix + "/a.bin bs=1 seek=100 conv=notrunc 2>/dev/null");
    guest.zfs("snapshot", fix + "@v4").ok();
    guest.zfs("promote", fix).ok();
    var promoted = verify(push, job, 1);
    assertThat(kinds(promoted)).as(promoted.toString()).containsExactly("clone");
    assertThat(promoted.problems().getFirst().message()).contains(fix + "@v3");
    // ... and the altered clone takes the copy's name: its @v4 is not the sender's
    guest.zfs("rename", t, DST + "/old").ok();
    guest.zfs("rename", fix, t).ok();
    var forged = verify(push, job, 3);
    assertThat(kinds(forged)).as(forged.toString()).containsExactly("guid", "missing");
    assertThat(forged.problems())
        .anySatisfy(
            p -> {
              assertThat(p.kind()).isEqualTo("guid");
              assertThat(p.message()).contains("@v4");
            });
    // the snapshots that are still the sender's were compared by content and match
    assertThat(forged.contentChecked()).isEqualTo(2);
  }

  /**
   * An encrypted filesystem sent raw is compared by its ciphertext: no key on the receiver. A
   * filesystem without compression, sent plain to a receiver that compresses, where its zero blocks
   * became holes, matches too.
   */
  @Test
  void verifyComparesARawCopyWithoutItsKeyAndZeroBlocksThatBecameHolesMatch() throws Exception {
    var enc = src("venc");
    createEncrypted(enc);
    guest.writeRandom("/" + enc + "/secret.bin", 2);
    snapshot("w1", enc);
    guest.writeRandom("/" + enc + "/secret2.bin", 1);
    snapshot("w2", enc);
    var raw =
        push(
            "gvenc",
            p -> p.toString().equals(enc),
            new SenderOptions(true, false, false, false, false, false),
            SINK,
            ReceiverOptions.DEFAULTS,
            null);
    var all = Replication.Config.defaults("gvenc").withRetries(1, Duration.ZERO);
    assertThat(raw.run(all, Replication.Progress.none()).ok()).isTrue();
    assertThat(raw.run(all, Replication.Progress.none()).ok()).isTrue();
    assertThat(guest.prop(target(enc), "keystatus")).isEqualTo("unavailable");
    var r = verify(raw, "gvenc", 2);
    assertThat(r.problems()).as(r.toString()).isEmpty();
    assertThat(r.contentChecked()).isGreaterThanOrEqualTo(1);
    assertThat(r.contentBytes()).isGreaterThan(1L << 20);

    var plain = src("vzero");
    zfs.create(DatasetPath.parse(plain), Map.of("compression", "off"));
    guest.sh("head -c 2097152 /dev/zero > /" + plain + "/zeros.bin");
    guest.writeRandom("/" + plain + "/data.bin", 1);
    snapshot("z1", plain);
    var push = push("gvzero", p -> p.toString().equals(plain));
    assertThat(push.run(once("gvzero"), Replication.Progress.none()).ok()).isTrue();
    assertThat(guest.prop(target(plain), "compression")).isNotEqualTo("off");
    // the zeros took space on the sender and none on the receiver
    assertThat(Long.parseLong(guest.prop(target(plain), "used")))
        .isLessThan(Long.parseLong(guest.prop(plain, "used")) - (1L << 20));
    var z = verify(push, "gvzero", 1);
    assertThat(z.problems()).as(z.toString()).isEmpty();
    assertThat(z.contentChecked()).isEqualTo(1);
  }

  // ------------------------------------------------------------------------------------- tests

  @Test
  void pushesANestedTreeInitiallyThenIncrementallyKeepingTheCursorBookmarkAndLastReceivedHold()
      throws Exception {
    var job = "gtree";
    var replicated = List.of(src("tree"), src("tree/a"), src("tree/a/b/c"));
    for (var fs : List.of("tree", "tree/a", "tree/a/b", "tree/a/b/c")) {
      zfs.create(DatasetPath.parse(src(fs)), Map.of());
      guest.writeRandom("/" + src(fs) + "/file.bin", 1);
    }
    snapshot("s1", src("tree"), src("tree/a"), src("tree/a/b"), src("tree/a/b/c"));
    var filter = DatasetFilter.of(Map.of(src("tree") + "<", true, src("tree/a/b"), false));
    var push = push(job, filter);

    var r = push.run(once(job), Replication.Progress.none());
    assertThat(r.filesystems())
        .extracting(Replication.FsReport::filesystem, Replication.FsReport::state)
        .containsExactlyInAnyOrder(
            replicated.stream()
                .map(fs -> org.assertj.core.groups.Tuple.tuple(fs, State.REPLICATED))
                .toArray(org.assertj.core.groups.Tuple[]::new));
    for (var fs : replicated) {
      assertThat(guest.versions(fs))
          .as("sender %s: the snapshot and this job's cursor bookmark", fs)
          .containsExactlyInAnyOrder("@s1", cursor(fs + "@s1", job));
      assertThat(guest.holds(fs + "@s1")).as("step holds released on %s", fs).isEmpty();
      assertThat(guest.versions(target(fs))).containsExactly("@s1");
      assertThat(guest.holds(target(fs) + "@s1")).containsExactly("zrepl_last_received_J_" + job);
      assertSameFiles(fs + "@s1", target(fs) + "@s1");
    }
    var gap = target(src("tree/a/b"));
    assertThat(guest.prop(gap, Zfs.PLACEHOLDER_PROPERTY))
        .isEqualTo(Zfs.placeholderHash(DatasetPath.parse(gap)));

    guest.writeRandom("/" + src("tree/a") + "/file.bin", 1);
    guest.writeRandom("/" + src("tree/a/b/c") + "/new.bin", 1);
    snapshot("s2", src("tree"), src("tree/a"), src("tree/a/b"), src("tree/a/b/c"));
    var steps = new Steps();
    r = push.run(once(job), steps);
    assertThat(r.ok()).as(r.toString()).isTrue();
    for (var fs : replicated) {
      assertThat(r.of(fs).stepsDone()).isEqualTo(1);
      // each step was size-estimated (zfs send -nvP) before it ran, for progress and ETA
      var last = steps.done.get(fs);
      assertThat(last.bytes()).isEqualTo(r.of(fs).bytes());
      assertThat(last.expectedBytes())
          .as("%s: estimate of a %d-byte stream", fs, last.bytes())
          .isBetween(last.bytes() * 8 / 10, last.bytes() * 12 / 10 + 64 * 1024);
      assertThat(guest.versions(fs))
          .as("sender %s: the cursor moved to @s2, the old one is gone", fs)
          .containsExactlyInAnyOrder("@s1", "@s2", cursor(fs + "@s2", job));
      assertThat(guest.holds(fs + "@s2")).isEmpty();
      assertThat(guest.versions(target(fs))).containsExactly("@s1", "@s2");
      assertThat(guest.holds(target(fs) + "@s1")).isEmpty();
      assertThat(guest.holds(target(fs) + "@s2")).containsExactly("zrepl_last_received_J_" + job);
      assertSameFiles(fs + "@s2", target(fs) + "@s2");
    }

    r = push.run(once(job), Replication.Progress.none());
    assertThat(r.filesystems())
        .extracting(Replication.FsReport::state)
        .containsOnly(State.UP_TO_DATE);
  }

  /**
   * Two clients of one source job (zrepl#380), with cursor bookmarks: the job's own cursor is the
   * first client's until its first completion adopts it (destroyed once the client's own is in
   * place); each client's cursor then moves alone, and pruning on behalf of the client that is
   * ahead keeps what the other has not received yet ({@code not_replicated} across the clients), so
   * the other goes on incrementally, snapshot by snapshot.
   */
  @Test
  void twoClientsOfOneSourceKeepTheirOwnCursorsAndPruningKeepsWhatEitherLacks() throws Exception {
    var fs = src("fan");
    var path = DatasetPath.parse(fs);
    zfs.create(path, Map.of());
    guest.writeRandom("/" + fs + "/file.bin", 1);
    snapshot("s1", fs);
    var roots = new ArrayList<DatasetPath>();
    for (var r : List.of("fan-one", "fan-two")) {
      var root = DatasetPath.parse(DST + "/" + r);
      zfs.create(root, Map.of("mountpoint", "none"));
      roots.add(root);
    }
    Predicate<DatasetPath> only = p -> p.equals(path);
    // the job's own sender (zrepl's one cursor per job) replicated s1 to client one's receiver
    var jobs = new Sender(zfs, only, "gsrc", SenderOptions.PLAIN);
    var one =
        Sender.forClient(
            zfs, only, "gsrc", "one", SenderOptions.PLAIN, n -> {}, BandwidthLimiter.none());
    var two =
        Sender.forClient(
            zfs, only, "gsrc", "two", SenderOptions.PLAIN, n -> {}, BandwidthLimiter.none());
    var toOne = Receiver.localRoot(zfs, roots.get(0), "one", ReceiverOptions.DEFAULTS);
    var toTwo = Receiver.localRoot(zfs, roots.get(1), "two", ReceiverOptions.DEFAULTS);
    var request = new FsRequest(fs);
    step(jobs, toOne, path, null, "s1");
    assertThat(guest.versions(fs)).containsExactlyInAnyOrder("@s1", cursor(fs + "@s1", "gsrc"));
    assertThat(one.replicationCursor(request))
        .as("the job's cursor, not adopted yet")
        .extracting(FsVersion::name)
        .containsExactly(cursor(fs + "@s1", "gsrc").substring(1));

    guest.writeRandom("/" + fs + "/2.bin", 1);
    snapshot("s2", fs);
    step(one, toOne, path, "s1", "s2");
    assertThat(guest.versions(fs))
        .as("one adopted the job's cursor")
        .containsExactlyInAnyOrder("@s1", "@s2", cursor(fs + "@s2", "gsrc_C_one"));
    assertThat(two.replicationCursor(request)).isEmpty();
    step(two, toTwo, path, null, "s2");
    for (var n : List.of("s3", "s4")) {
      guest.writeRandom("/" + fs + "/" + n + ".bin", 1);
      snapshot(n, fs);
    }
    step(one, toOne, path, "s2", "s3");
    step(one, toOne, path, "s3", "s4");
    assertThat(guest.versions(fs))
        .containsExactlyInAnyOrder(
            "@s1",
            "@s2",
            "@s3",
            "@s4",
            cursor(fs + "@s2", "gsrc_C_two"),
            cursor(fs + "@s4", "gsrc_C_one"));

    // one prunes the source, keeping only what is not replicated: to two, s3 and s4 are not
    var result =
        one.prune(
            dev.zrepl4j.replication.pruning.PruneRequest.of(
                List.of(new dev.zrepl4j.replication.pruning.PruneRule.NotReplicated(false)),
                false));
    assertThat(result.failures()).isEmpty();
    assertThat(guest.versions(fs))
        .as("s1 went (every client has it); s2 is two's base; s3, s4 two lacks")
        .containsExactlyInAnyOrder(
            "@s2",
            "@s3",
            "@s4",
            cursor(fs + "@s2", "gsrc_C_two"),
            cursor(fs + "@s4", "gsrc_C_one"));
    // two goes on snapshot by snapshot
    step(two, toTwo, path, "s2", "s3");
    step(two, toTwo, path, "s3", "s4");
    assertThat(guest.versions(DST + "/fan-two/" + fs)).containsExactly("@s2", "@s3", "@s4");
    assertThat(guest.versions(fs))
        .containsExactlyInAnyOrder(
            "@s2",
            "@s3",
            "@s4",
            cursor(fs + "@s4", "gsrc_C_two"),
            cursor(fs + "@s4", "gsrc_C_one"));
  }

  /**
   * {@code zrepl4j_follow_renames} on OpenZFS: a filesystem moved on the sender into a new parent
   * the receiver does not have yet; the receiver renames its copy into a placeholder parent, the
   * parent's own full receive replaces the placeholder (zfs recv -F, its child kept), and the moved
   * filesystem goes on incrementally, all in one run.
   */
  @Test
  void aFilesystemMovedIntoANewParentIsFollowedThroughAPlaceholderInOneRun() throws Exception {
    var job = "gmove";
    var root = src("mv");
    zfs.create(DatasetPath.parse(root), Map.of());
    zfs.create(DatasetPath.parse(root + "/d"), Map.of());
    guest.writeRandom("/" + root + "/d/file.bin", 1);
    snapshot("s1", root, root + "/d");
    var push = push(job, DatasetFilter.of(Map.of(root + "<", true)));
    var follow = once(job).withFollowRenames(true);
    assertThat(push.run(follow, Replication.Progress.none()).ok()).isTrue();

    zfs.create(DatasetPath.parse(root + "/x"), Map.of());
    snapshot("s1", root + "/x");
    guest.zfs("rename", root + "/d", root + "/x/e").ok();
    guest.writeRandom("/" + root + "/x/e/more.bin", 1);
    snapshot("s2", root + "/x/e");
    var r = push.run(follow, Replication.Progress.none());
    assertThat(r.ok()).as(r.toString()).isTrue();
    assertThat(r.of(root + "/x").state()).isEqualTo(State.REPLICATED);
    assertThat(r.of(root + "/x/e").state()).isEqualTo(State.REPLICATED);
    assertThat(r.of(root + "/x/e").stepsDone()).as("incremental, not a full resend").isEqualTo(1);
    assertThat(guest.versions(target(root + "/x/e"))).containsExactly("@s1", "@s2");
    assertThat(guest.versions(target(root + "/x"))).containsExactly("@s1");
    assertThat(guest.prop(target(root + "/x") + "@s1", "guid"))
        .as("the placeholder replaced by the sender's x")
        .isEqualTo(guest.prop(root + "/x@s1", "guid"));
    assertThat(guest.zfs("list", "-H", "-o", "name", target(root + "/d")).status())
        .as("the old copy was moved, not left behind")
        .isNotZero();
    assertSameFiles(root + "/x/e@s2", target(root + "/x/e") + "@s2");
  }

  @Test
  void theCommonSnapshotDestroyedOnTheSenderTheIncrementalStartsFromTheCursorBookmark()
      throws Exception {
    var job = "gcursor";
    var fs = src("gone");
    var push = pushedOnce(job, fs, 2);
    var cursorAtS1 = cursor(fs + "@s1", job);

    guest.zfs("destroy", fs + "@s1").ok();
    guest.writeRandom("/" + fs + "/more.bin", 1);
    snapshot("s2", fs);
    assertThat(guest.versions(fs)).containsExactlyInAnyOrder(cursorAtS1, "@s2");

    var steps = new Steps();
    var r = push.run(once(job), steps);
    assertThat(r.ok()).as(r.toString()).isTrue();
    assertThat(r.of(fs).stepsDone()).isEqualTo(1);
    assertThat(steps.of(fs))
        .singleElement()
        .satisfies(
            s -> {
              assertThat(s).isInstanceOf(Step.Incremental.class);
              assertThat(s.from()).isNotNull();
              assertThat(s.from().isSnapshot()).isFalse();
              assertThat("#" + s.from().name()).isEqualTo(cursorAtS1);
              assertThat(s.to().name()).isEqualTo("s2");
            });
    assertThat(guest.versions(target(fs))).containsExactly("@s1", "@s2");
    assertSameFiles(fs + "@s2", target(fs) + "@s2");
    assertThat(guest.versions(fs)).containsExactlyInAnyOrder("@s2", cursor(fs + "@s2", job));
  }

  @Test
  void aStopBetweenReceiveAndCompletionIsRepairedNextRunTheCursorBookmarkMovesNoStepHoldStays()
      throws Exception {
    var job = "gstop";
    var fs = src("stop");
    var push = pushedOnce(job, fs, 1);
    guest.writeRandom("/" + fs + "/more.bin", 1);
    snapshot("s2", fs);
    // the run stops after the receive, before the sender's completion
    Replication.Connector stopping = CompletionLost.around(push);
    var r = stopping.run(once(job), Replication.Progress.none());
    assertThat(r.of(fs).state()).isEqualTo(State.FAILED);
    assertThat(guest.versions(target(fs))).containsExactly("@s1", "@s2");
    assertThat(guest.versions(fs)).containsExactlyInAnyOrder("@s1", "@s2", cursor(fs + "@s1", job));
    assertThat(guest.holds(fs + "@s1")).containsExactly("zrepl_STEP_J_" + job);
    assertThat(guest.holds(fs + "@s2")).containsExactly("zrepl_STEP_J_" + job);

    // the next run (a new driver: a restarted daemon) finds both sides at @s2 and repairs
    r = push.run(once(job), Replication.Progress.none());
    assertThat(r.of(fs).state()).isEqualTo(State.UP_TO_DATE);
    assertThat(guest.versions(fs)).containsExactlyInAnyOrder("@s1", "@s2", cursor(fs + "@s2", job));
    assertThat(guest.holds(fs + "@s1")).isEmpty();
    assertThat(guest.holds(fs + "@s2")).isEmpty();
    assertThat(guest.holds(target(fs) + "@s2")).containsExactly("zrepl_last_received_J_" + job);
  }

  /**
   * guarantee_incremental protects a step's {@code from} with a tentative cursor bookmark instead
   * of holds; guarantee_nothing protects nothing. Either way the next run (a new driver) moves the
   * cursor and leaves no tentative bookmark and no hold.
   */
  @ParameterizedTest
  @EnumSource(
      value = Protection.class,
      names = {"GUARANTEE_INCREMENTAL", "GUARANTEE_NOTHING"})
  void aStoppedStepAtLowerProtectionLeavesWhatItPromisesAndTheNextRunCleansUp(Protection level)
      throws Exception {
    var job = "gprot" + level.ordinal();
    var fs = src("prot" + level.ordinal());
    var push = pushedOnce(job, fs, 1);
    guest.writeRandom("/" + fs + "/more.bin", 1);
    snapshot("s2", fs);
    var config = once(job).withProtection(Protection.GUARANTEE_RESUMABILITY, level);
    Replication.Connector stopping = CompletionLost.around(push);
    var r = stopping.run(config, Replication.Progress.none());
    assertThat(r.of(fs).state()).isEqualTo(State.FAILED);
    assertThat(guest.versions(target(fs))).containsExactly("@s1", "@s2");
    var expected = new ArrayList<>(List.of("@s1", "@s2", cursor(fs + "@s1", job)));
    if (level == Protection.GUARANTEE_INCREMENTAL) {
      long s1 = Long.parseUnsignedLong(guest.prop(fs + "@s1", "guid"));
      expected.add("#" + ZreplNames.tentativeCursorBookmark(s1, job));
    }
    assertThat(guest.versions(fs)).containsExactlyInAnyOrderElementsOf(expected);
    assertThat(guest.holds(fs + "@s1")).isEmpty();
    assertThat(guest.holds(fs + "@s2")).isEmpty();

    r = push.run(config, Replication.Progress.none());
    assertThat(r.of(fs).state()).isEqualTo(State.UP_TO_DATE);
    assertThat(guest.versions(fs)).containsExactlyInAnyOrder("@s1", "@s2", cursor(fs + "@s2", job));
    assertThat(guest.holds(fs + "@s1")).isEmpty();
    assertThat(guest.holds(fs + "@s2")).isEmpty();
  }

  @Test
  void aTransferKilledMidwayLeavesAResumeTokenAndTheNextRunResumesFromIt() throws Exception {
    var job = "gresume";
    var fs = src("resume");
    zfs.create(DatasetPath.parse(fs), Map.of());
    guest.writeRandom("/" + fs + "/file.bin", 1);
    snapshot("s1", fs);
    var proxy = new TcpProxy[1];
    var push =
        push(
            job,
            p -> p.toString().equals(fs),
            SenderOptions.PLAIN,
            SINK,
            ReceiverOptions.DEFAULTS,
            proxy);
    assertThat(push.run(once(job), Replication.Progress.none()).ok()).isTrue();

    guest.writeRandom("/" + fs + "/big.bin", 12);
    snapshot("s2", fs);
    var target = target(fs);
    var decoded = cutMidway(push, proxy[0], job, fs);
    assertThat(decoded.toName()).isEqualTo(fs + "@s2");
    assertThat(decoded.bytes()).as("bytes the partial receive kept").isGreaterThan(1 << 20);
    assertThat(guest.versions(target)).as("no half-received snapshot").containsExactly("@s1");
    // guarantee_resumability: the step's snapshots stay held on the sender until it completes
    assertThat(guest.holds(fs + "@s1")).containsExactly("zrepl_STEP_J_" + job);
    assertThat(guest.holds(fs + "@s2")).containsExactly("zrepl_STEP_J_" + job);

    var steps = new Steps();
    var r = push.run(once(job), steps);
    assertThat(r.ok()).as(r.toString()).isTrue();
    assertThat(r.of(fs).stepsDone()).isEqualTo(1);
    assertThat(steps.of(fs)).singleElement().isInstanceOf(Step.Resume.class);
    long full =
        zfs.estimateSendSize(
            dev.zrepl4j.zfs.SendRequest.incremental(
                dev.zrepl4j.zfs.FilesystemVersion.parseFullName(fs + "@s1"),
                dev.zrepl4j.zfs.FilesystemVersion.parseFullName(fs + "@s2")));
    assertThat(r.of(fs).bytes())
        .as(
            "the resumed stream sends only the rest (%d of ~%d bytes were received)",
            decoded.bytes(), full)
        .isLessThan(full - decoded.bytes() / 2);
    assertThat(guest.prop(target, "receive_resume_token")).isEqualTo("-");
    assertThat(guest.versions(target)).containsExactly("@s1", "@s2");
    assertThat(guest.holds(target + "@s2")).containsExactly("zrepl_last_received_J_" + job);
    assertThat(guest.versions(fs)).containsExactlyInAnyOrder("@s1", "@s2", cursor(fs + "@s2", job));
    assertThat(guest.holds(fs + "@s1")).isEmpty();
    assertThat(guest.holds(fs + "@s2")).isEmpty();
    assertSameFiles(fs + "@s2", target + "@s2");
  }

  @Test
  void aBatchedIncrementalKilledMidwayResumesInTheSnapshotItWasInAndBringsTheRest()
      throws Exception {
    // zrepl4j_send_intermediates: s1 -> s4 as one -I stream, cut while s3 (the big one) arrives
    var job = "gbatch";
    var fs = src("batch");
    zfs.create(DatasetPath.parse(fs), Map.of());
    guest.writeRandom("/" + fs + "/file.bin", 1);
    snapshot("s1", fs);
    var proxy = new TcpProxy[1];
    var push =
        push(
            job,
            p -> p.toString().equals(fs),
            SenderOptions.PLAIN,
            SINK,
            ReceiverOptions.DEFAULTS,
            proxy);
    var batched = once(job).withBatchIntermediates(true);
    assertThat(push.run(batched, Replication.Progress.none()).ok()).isTrue();
    guest.writeRandom("/" + fs + "/s2.bin", 1);
    snapshot("s2", fs);
    guest.writeRandom("/" + fs + "/big.bin", 12);
    snapshot("s3", fs);
    guest.writeRandom("/" + fs + "/s4.bin", 1);
    snapshot("s4", fs);
    var target = target(fs);

    var decoded = cutMidway(push, proxy[0], batched, fs);
    assertThat(decoded.toName()).as("the snapshot the -I stream was in").isEqualTo(fs + "@s3");
    assertThat(guest.versions(target)).containsExactly("@s1", "@s2");
    // the step's ends stay held on the sender until it completes; the cursor stays at s1
    assertThat(guest.holds(fs + "@s1")).containsExactly("zrepl_STEP_J_" + job);
    assertThat(guest.holds(fs + "@s4")).containsExactly("zrepl_STEP_J_" + job);
    assertThat(guest.versions(fs)).contains(cursor(fs + "@s1", job));

    var steps = new Steps();
    var r = push.run(batched, steps);
    assertThat(r.ok()).as(r.toString()).isTrue();
    assertThat(steps.of(fs)).hasSize(2).first().isInstanceOf(Step.Resume.class);
    assertThat(steps.of(fs).get(1).to().name()).isEqualTo("s4");
    assertThat(guest.prop(target, "receive_resume_token")).isEqualTo("-");
    assertThat(guest.versions(target)).containsExactly("@s1", "@s2", "@s3", "@s4");
    assertThat(guest.holds(target + "@s4")).containsExactly("zrepl_last_received_J_" + job);
    assertThat(guest.holds(target + "@s2")).isEmpty();
    assertThat(guest.versions(fs))
        .containsExactlyInAnyOrder("@s1", "@s2", "@s3", "@s4", cursor(fs + "@s4", job));
    for (var snap : List.of("@s1", "@s2", "@s3", "@s4")) {
      assertThat(guest.holds(fs + snap)).as("holds of %s", snap).isEmpty();
      assertSameFiles(fs + snap, target + snap);
    }
  }

  @Test
  void anInitialTransferKilledMidwayIntoANewFilesystemResumes() throws Exception {
    var job = "gresumenew";
    var fs = src("resumenew");
    zfs.create(DatasetPath.parse(fs), Map.of());
    guest.writeRandom("/" + fs + "/big.bin", 12);
    snapshot("s1", fs);
    var proxy = new TcpProxy[1];
    var push =
        push(
            job,
            p -> p.toString().equals(fs),
            SenderOptions.PLAIN,
            SINK,
            ReceiverOptions.DEFAULTS,
            proxy);

    var decoded = cutMidway(push, proxy[0], job, fs);
    assertThat(decoded.toName()).isEqualTo(fs + "@s1");
    assertThat(decoded.fromGuid()).isZero();
    assertThat(decoded.bytes()).as("bytes the partial receive kept").isGreaterThan(1 << 20);

    var steps = new Steps();
    var r = push.run(once(job), steps);
    assertThat(r.ok()).as(r.toString()).isTrue();
    assertThat(steps.of(fs)).singleElement().isInstanceOf(Step.Resume.class);
    var t = target(fs);
    assertThat(guest.prop(t, "receive_resume_token")).isEqualTo("-");
    assertThat(guest.versions(t)).containsExactly("@s1");
    assertThat(guest.holds(t + "@s1")).containsExactly("zrepl_last_received_J_" + job);
    assertSameFiles(fs + "@s1", t + "@s1");
  }

  @Test
  void anInitialTransferKilledMidwayIntoAPlaceholderResumesAndReplacesIt() throws Exception {
    var job = "gresumefull";
    var fs = src("resumefull");
    zfs.create(DatasetPath.parse(fs), Map.of());
    guest.writeRandom("/" + fs + "/big.bin", 12);
    snapshot("s1", fs);
    // the receiver has a placeholder there (e.g. a gap of an earlier filter)
    var target = DatasetPath.parse(target(fs));
    for (int len = SINK.length() + 1; len <= target.length(); len++) {
      var p = new DatasetPath(target.components().subList(0, len));
      if (!guest.exists(p.toString())) {
        zfs.createPlaceholder(p);
      }
    }
    var proxy = new TcpProxy[1];
    var push =
        push(
            job,
            p -> p.toString().equals(fs),
            SenderOptions.PLAIN,
            SINK,
            ReceiverOptions.DEFAULTS,
            proxy);

    var decoded = cutMidway(push, proxy[0], job, fs);
    assertThat(guest.prop(target.toString(), Zfs.PLACEHOLDER_PROPERTY))
        .isEqualTo(Zfs.placeholderHash(target));
    assertThat(decoded.toName()).isEqualTo(fs + "@s1");
    assertThat(decoded.fromGuid()).isZero();
    assertThat(decoded.bytes()).as("bytes the partial receive kept").isGreaterThan(1 << 20);

    var steps = new Steps();
    var r = push.run(once(job), steps);
    assertThat(r.ok()).as(r.toString()).isTrue();
    assertThat(steps.of(fs)).singleElement().isInstanceOf(Step.Resume.class);
    var t = target.toString();
    assertThat(guest.prop(t, "receive_resume_token")).isEqualTo("-");
    assertThat(guest.versions(t)).containsExactly("@s1");
    assertThat(guest.prop(t, Zfs.PLACEHOLDER_PROPERTY))
        .as("a replaced placeholder is no placeholder any more")
        .isNotEqualTo(Zfs.placeholderHash(target));
    assertThat(guest.holds(t + "@s1")).containsExactly("zrepl_last_received_J_" + job);
    assertSameFiles(fs + "@s1", t + "@s1");

    guest.writeRandom("/" + fs + "/more.bin", 1);
    snapshot("s2", fs);
    r = push.run(once(job), Replication.Progress.none());
    assertThat(r.ok()).as(r.toString()).isTrue();
    assertThat(guest.versions(t)).containsExactly("@s1", "@s2");
    assertSameFiles(fs + "@s2", t + "@s2");
  }

  @Test
  void aRawSendOfAnEncryptedDatasetArrivesEncryptedAndAnUnencryptedOneIsRefused() throws Exception {
    var job = "genc";
    var enc = src("enc");
    var plain = src("plain");
    createEncrypted(enc);
    zfs.create(DatasetPath.parse(plain), Map.of());
    guest.writeRandom("/" + enc + "/secret.bin", 2);
    guest.writeRandom("/" + plain + "/file.bin", 1);
    snapshot("e1", enc, plain);
    var push =
        push(
            job,
            p -> p.toString().equals(enc) || p.toString().equals(plain),
            new SenderOptions(true, false, false, false, false, false),
            SINK,
            ReceiverOptions.DEFAULTS,
            null);

    var r = push.run(once(job), Replication.Progress.none());
    assertThat(r.of(enc).state()).as(r.toString()).isEqualTo(State.REPLICATED);
    assertThat(r.of(plain).state()).isEqualTo(State.FAILED);
    assertThat(r.of(plain).message()).contains(plain).contains("is not encrypted");
    assertThat(guest.exists(target(plain))).isFalse();

    guest.writeRandom("/" + enc + "/secret2.bin", 1);
    snapshot("e2", enc);
    r = push.run(once(job), Replication.Progress.none());
    assertThat(r.of(enc).state()).as(r.toString()).isEqualTo(State.REPLICATED);
    assertThat(r.of(enc).stepsDone()).isEqualTo(1);

    var t = target(enc);
    assertThat(guest.prop(t, "encryption")).isEqualTo("aes-256-gcm");
    assertThat(guest.prop(t, "keystatus")).isEqualTo("unavailable");
    assertThat(guest.prop(t, "encryptionroot")).isEqualTo(t);
    assertThat(guest.versions(t)).containsExactly("@e1", "@e2");
    assertThat(guest.exec("mount", "-t", "zfs", "-o", "ro", t + "@e2", "/mnt").status())
        .as("a snapshot of a locked dataset cannot be mounted")
        .isNotZero();

    guest.zfs("load-key", "-L", "file://" + KEY_FILE, t).ok();
    assertThat(guest.prop(t, "keystatus")).isEqualTo("available");
    assertSameFiles(enc + "@e2", t + "@e2");
  }

  /**
   * A pull client forges a resume token to get a plaintext stream of an encrypted dataset whose key
   * is loaded: a real token of a non-raw send of it (made here with {@code zfs send | head | zfs
   * recv -s}), handed to the sender endpoint of a {@code send.encrypted} job over RPC. The sender
   * refuses it before any {@code zfs send} starts; its own raw token is still accepted (issue 13).
   */
  @Test
  void aForgedNonRawResumeTokenOfAnEncryptedDatasetIsRefusedBeforeAnyZfsSend() throws Exception {
    var job = "gforge";
    var enc = src("forge");
    createEncrypted(enc);
    guest.writeRandom("/" + enc + "/secret.bin", 2);
    snapshot("f1", enc);
    assertThat(guest.prop(enc, "keystatus")).isEqualTo("available");
    // a real resume token of a plain (non-raw) send, cut short
    var partial = DST + "/forged";
    guest.exec("sh", "-c", "zfs send " + enc + "@f1 | head -c 1000000 | zfs recv -s " + partial);
    var token = guest.prop(partial, "receive_resume_token");
    assertThat(token).as("receive_resume_token of %s", partial).isNotEqualTo("-");
    var decoded = ResumeToken.decode(token);
    assertThat(decoded.rawOk()).isFalse();
    assertThat(decoded.toName()).isEqualTo(enc + "@f1");

    // the sender endpoint of a send.encrypted job, its zfs calls recorded
    var calls = new CopyOnWriteArrayList<String>();
    var recording =
        (Zfs)
            java.lang.reflect.Proxy.newProxyInstance(
                Zfs.class.getClassLoader(),
                new Class<?>[] {Zfs.class},
                (proxy, method, args) -> {
                  calls.add(method.getName());
                  try {
                    return method.invoke(zfs, args);
                  } catch (java.lang.reflect.InvocationTargetException e) {
                    throw e.getCause();
                  }
                });
    var server = new RpcServer(RpcOptions.defaults());
    server.register(
        "sender",
        new Sender(
            recording,
            p -> p.toString().equals(enc),
            job,
            new SenderOptions(true, false, false, false, false, false)));
    var l = server.listenTcp(new InetSocketAddress("127.0.0.1", 0), peer -> Optional.of(CLIENT));
    closeLater.add(server);
    closeLater.add(l);
    var client =
        Dialer.tcp("127.0.0.1", l.port(), Duration.ofSeconds(5), RpcOptions.defaults()).dial();
    closeLater.add(client);
    var sender = client.proxy("sender", SenderApi.class);
    var to =
        sender.listVersions(new FsRequest(enc)).stream()
            .filter(v -> v.name().equals("f1") && v.type().equals(FsVersion.SNAPSHOT))
            .findFirst()
            .orElseThrow();
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () ->
                sender.send(
                    new SendSpec(enc, null, to, token, false, Protection.GUARANTEE_NOTHING)))
        .isInstanceOf(dev.zrepl4j.rpc.RemoteException.class)
        .hasMessageContaining("has no rawok");
    assertThat(calls).as("zfs calls of the sender").doesNotContain("send");
    guest.zfs("recv", "-A", partial).ok();
  }

  @Test
  void aPlaceholderBelowAnEncryptedReceiverRootIsRefusedNamingZrepl504() throws Exception {
    var job = "gph";
    var fs = src("ph");
    var encRoot = DatasetPath.parse(DST + "/encsink");
    zfs.create(
        encRoot,
        Map.of(
            "encryption", "aes-256-gcm",
            "keyformat", "raw",
            "keylocation", "file://" + KEY_FILE));
    zfs.create(DatasetPath.parse(fs), Map.of());
    guest.writeRandom("/" + fs + "/file.bin", 1);
    snapshot("p1", fs);
    var push =
        push(
            job,
            p -> p.toString().equals(fs),
            SenderOptions.PLAIN,
            encRoot,
            ReceiverOptions.DEFAULTS,
            null);

    var r = push.run(once(job), Replication.Progress.none());
    assertThat(r.of(fs).state()).as(r.toString()).isEqualTo(State.FAILED);
    assertThat(r.of(fs).message()).contains("zrepl#504").contains("placeholder.encryption");
    assertThat(guest.zfs("list", "-H", "-o", "name", "-r", encRoot.toString()).ok().strip())
        .as("nothing created below the encrypted root")
        .isEqualTo(encRoot.toString());
  }

  @Test
  void withPlaceholderEncryptionOffARawSendArrivesBelowAnEncryptedReceiverRoot() throws Exception {
    var job = "gphoff";
    var fs = src("phenc");
    var encRoot = DatasetPath.parse(DST + "/encsink-off");
    var encrypted =
        Map.of(
            "encryption", "aes-256-gcm",
            "keyformat", "raw",
            "keylocation", "file://" + KEY_FILE);
    zfs.create(encRoot, encrypted);
    zfs.create(DatasetPath.parse(fs), encrypted);
    guest.writeRandom("/" + fs + "/secret.bin", 1);
    snapshot("p1", fs);
    var push =
        push(
            job,
            p -> p.toString().equals(fs),
            new SenderOptions(true, false, false, false, false, false),
            encRoot,
            new ReceiverOptions(Map.of(), List.of(), ReceiverOptions.PlaceholderEncryption.OFF),
            null);

    var r = push.run(once(job), Replication.Progress.none());
    assertThat(r.of(fs).state()).as(r.toString()).isEqualTo(State.REPLICATED);
    var placeholder = encRoot + "/" + CLIENT;
    assertThat(guest.prop(placeholder, "encryption")).isEqualTo("off");
    assertThat(guest.prop(placeholder, Zfs.PLACEHOLDER_PROPERTY))
        .isEqualTo(Zfs.placeholderHash(DatasetPath.parse(placeholder)));
    var t = encRoot + "/" + CLIENT + "/" + fs;
    assertThat(guest.prop(t, "encryptionroot")).isEqualTo(t);
    assertThat(guest.prop(t, "keystatus")).isEqualTo("unavailable");
    guest.zfs("load-key", "-L", "file://" + KEY_FILE, t).ok();
    assertSameFiles(fs + "@p1", t + "@p1");
  }
}
