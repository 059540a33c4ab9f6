package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.replication.filter.DatasetFilter;
import dev.zrepl4j.replication.filter.DatasetMapping;
import dev.zrepl4j.replication.pruning.PruneRequest;
import dev.zrepl4j.replication.pruning.PruneRule;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.RealZfs;
import dev.zrepl4j.zfs.Zfs;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The seed's {@code mapping:} on the receiving side, on real zfs-fuse pools: a push over TCP into a
 * sink with a mapping (relative to {@code root_fs/<identity>}) and a pull with a mapping (absolute
 * targets below {@code root_fs}). Data arrives where mapped, incrementals work (so {@code
 * listFilesystems} maps the receiver's datasets back into the sender's names), a name the mapping
 * does not map is refused and nothing is created for it.
 */
@Timeout(240)
class MappingIT {
  private FuseFixture src;
  private FuseFixture dst;
  private RealZfs zfs;
  private DatasetPath data;
  private DatasetPath sub;
  private DatasetPath other;
  private DatasetPath unmapped;
  private final List<AutoCloseable> closeLater = new ArrayList<>();

  @BeforeEach
  void pools() throws IOException {
    src = FuseFixture.create("mpsrc", 192);
    dst = FuseFixture.create("mpdst", 192);
    zfs = src.zfs;
    data = src.path("data");
    sub = src.path("data/sub");
    other = src.path("other");
    unmapped = src.path("unmapped");
    for (var fs : List.of(data, sub, other, unmapped)) {
      zfs.create(fs, Map.of());
    }
    snapshot("s1");
  }

  @AfterEach
  void destroy() throws Exception {
    for (var c : closeLater.reversed()) {
      c.close();
    }
    for (var f : List.of(src, dst)) {
      for (int i = 0; ; i++) {
        try {
          f.close();
          break;
        } catch (IOException e) {
          if (i >= 10 || !String.valueOf(e.getMessage()).contains("busy")) {
            throw e;
          }
          Thread.sleep(500);
        }
      }
    }
  }

  private void snapshot(String name) throws IOException {
    for (var fs : List.of(data, sub, other, unmapped)) {
      var rel = fs.trimPrefix(src.root()).toString();
      Trees.write(src.mounted(rel + "/" + name + ".bin"), (rel + name).hashCode(), 40_000);
    }
    zfs.snapshot(List.of(src.root(), data, sub, other, unmapped), name);
  }

  private static Replication.Config config(String job) {
    return Replication.Config.defaults(job)
        .withInitialPolicy(InitialPolicy.ALL)
        .withRetries(2, Duration.ofMillis(200));
  }

  private int listen(RpcServer server, String identity) throws IOException {
    var l = server.listenTcp(new InetSocketAddress("127.0.0.1", 0), a -> Optional.of(identity));
    closeLater.add(l);
    return l.port();
  }

  private static Dialer dial(int port) {
    return Dialer.tcp("127.0.0.1", port, Duration.ofSeconds(5), RpcOptions.defaults());
  }

  private List<DatasetPath> allOf(FuseFixture fx) throws IOException {
    return zfs.listFilesystems(List.of(fx.root()), p -> true);
  }

  private void assertSame(DatasetPath sent, DatasetPath received) throws IOException {
    var mnt = dst.mountReadOnly(received);
    try {
      Trees.assertSameFiles(src.mounted(sent.trimPrefix(src.root()).toString()), mnt);
    } finally {
      FuseFixture.unmount(received);
    }
  }

  private static boolean isPlaceholder(DatasetPath fs) throws IOException {
    return Zfs.isPlaceholder(fs, FuseFixture.prop(fs.toString(), Zfs.PLACEHOLDER_PROPERTY));
  }

  @Test
  void pushIntoASinkWithAMapping() throws Exception {
    var sinkRoot = dst.path("sink");
    zfs.create(sinkRoot, Map.of("mountpoint", "none"));
    var mapping = DatasetMapping.of(Map.of(data + "<", "backup/d", other.toString(), "misc/o"));
    var sink = new RpcServer(RpcOptions.defaults());
    closeLater.add(sink);
    sink.register(
        "receiver",
        new ReceiverEndpoint(
            zfs, sinkRoot, Receiver.Mode.SINK, "sink", ReceiverOptions.DEFAULTS, mapping));
    int port = listen(sink, "client1");
    var filter =
        DatasetFilter.of(
            Map.of(data + "<", true, other.toString(), true, unmapped.toString(), true));
    var push = new Push(new Sender(zfs, filter, "push", SenderOptions.PLAIN), "push", dial(port));
    closeLater.add(push);

    var r = push.run(config("push"), Replication.Progress.none());
    var client = sinkRoot.child("client1");
    assertThat(r.of(data.toString()).state()).as(r.toString()).isEqualTo(FsState.REPLICATED);
    assertThat(r.of(sub.toString()).state()).as(r.toString()).isEqualTo(FsState.REPLICATED);
    assertThat(r.of(other.toString()).state()).as(r.toString()).isEqualTo(FsState.REPLICATED);
    // the push asked the sink what it maps: the unmapped filesystem is not pushed at all (it used
    // to FAIL on every run), and the run is ok
    assertThat(r.filesystems())
        .extracting(Replication.FsReport::filesystem)
        .doesNotContain(unmapped.toString());
    assertThat(r.ok()).as(r.toString()).isTrue();
    // what the push asked: the sink's answer, and its refusals (a bad name, an escape)
    try (var c = dial(port).dial()) {
      var receiver = c.proxy("receiver", ReceiverApi.class);
      assertThat(
              receiver
                  .mapped(
                      new FsListRequest(
                          List.of(data.toString(), sub.toString(), unmapped.toString())))
                  .filesystems())
          .containsExactly(data.toString(), sub.toString());
      for (var bad : List.of("../x", "a//b", "")) {
        assertThatThrownBy(() -> receiver.mapped(new FsListRequest(List.of(bad))))
            .as(bad)
            .isInstanceOf(dev.zrepl4j.rpc.RemoteException.class);
      }
    }
    // data arrives where mapped; gaps are placeholders
    var d = client.extend(DatasetPath.parse("backup/d"));
    var dSub = d.child("sub");
    var o = client.extend(DatasetPath.parse("misc/o"));
    assertThat(dst.snapshotNames(d)).containsExactly("s1");
    assertThat(dst.snapshotNames(dSub)).containsExactly("s1");
    assertThat(dst.snapshotNames(o)).containsExactly("s1");
    assertThat(isPlaceholder(client.child("backup"))).isTrue();
    assertThat(isPlaceholder(client.child("misc"))).isTrue();
    // nothing was created for the unmapped name, nor for the sender's own paths
    assertThat(allOf(dst))
        .containsExactlyInAnyOrder(
            dst.root(), sinkRoot, client, client.child("backup"), d, dSub, client.child("misc"), o);

    try (var c = push.connect()) {
      // the receiver lists its datasets in the sender's names; gaps are not listed
      assertThat(c.receiver().listFilesystems())
          .extracting(FsInfo::path)
          .containsExactlyInAnyOrder(data.toString(), sub.toString(), other.toString());
      // a name outside the mapping is absent, not an error, when listing
      var vs = c.receiver().listVersionsOf(new FsListRequest(List.of(unmapped.toString())));
      assertThat(vs).singleElement().satisfies(v -> assertThat(v.versions()).isEmpty());
    }

    // the incremental works: the receiver's datasets map back onto the sender's
    snapshot("s2");
    r = push.run(config("push"), Replication.Progress.none());
    assertThat(r.of(data.toString()).stepsDone()).as(r.toString()).isEqualTo(1);
    assertThat(r.of(data.toString()).state()).isEqualTo(FsState.REPLICATED);
    assertThat(r.of(sub.toString()).stepsDone()).isEqualTo(1);
    assertThat(r.of(other.toString()).stepsDone()).isEqualTo(1);
    assertThat(r.ok()).as("no run fails for what the sink does not map").isTrue();
    assertThat(dst.snapshotNames(d)).containsExactly("s1", "s2");
    assertThat(dst.snapshotNames(o)).containsExactly("s1", "s2");
    assertSame(other, o);
    assertSame(sub, dSub);

    // pruning goes through the mapping too, and only to what it maps
    try (var c = push.connect()) {
      var pr =
          c.receiver()
              .prune(
                  PruneRequest.of(
                      List.of(new PruneRule.LastN(1, java.util.regex.Pattern.compile(""))), false));
      assertThat(pr.failures()).isEmpty();
      assertThat(pr.destroyed()).isEqualTo(3);
    }
    assertThat(dst.snapshotNames(d)).containsExactly("s2");
    assertThat(allOf(dst)).noneMatch(p -> p.toString().contains("unmapped"));
  }

  @Test
  void aMappingAReceiverCannotInvertIsRefused() {
    var sinkRoot = dst.path("sink");
    assertThatThrownBy(
            () ->
                new ReceiverEndpoint(
                    zfs,
                    sinkRoot,
                    Receiver.Mode.SINK,
                    "sink",
                    ReceiverOptions.DEFAULTS,
                    DatasetMapping.of(Map.of(data + "<", "x", other + "<", "x"))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cannot be inverted")
        .hasMessageContaining("both map onto the subtree x");
    assertThatThrownBy(
            () ->
                Receiver.localRoot(
                    zfs,
                    sinkRoot,
                    "pull",
                    ReceiverOptions.DEFAULTS,
                    DatasetMapping.of(Map.of(data + "<", dst.path("elsewhere").toString()))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("is not below " + sinkRoot);
  }

  @Test
  void pullWithAMapping() throws Exception {
    var rootFs = dst.path("pulled");
    zfs.create(rootFs, Map.of("mountpoint", "none"));
    var source = new RpcServer(RpcOptions.defaults());
    closeLater.add(source);
    // the source serves everything, the pull's mapping picks what it wants
    source.register(
        "sender",
        new Sender(
            zfs, DatasetFilter.of(Map.of(src.root() + "<", true)), "pull", SenderOptions.PLAIN));
    int port = listen(source, "puller");
    var target = rootFs.extend(DatasetPath.parse("d"));
    var mapping = DatasetMapping.of(Map.of(data + "<", target.toString()));
    var receiver = Receiver.localRoot(zfs, rootFs, "pull", ReceiverOptions.DEFAULTS, mapping);
    var pull = new Pull(dial(port), receiver, "pull", mapping);
    closeLater.add(pull);

    var r = pull.run(config("pull"), Replication.Progress.none());
    assertThat(r.ok()).as(r.toString()).isTrue();
    // unmapped source filesystems are skipped, as the seed's pull did (no report, no dataset)
    assertThat(r.filesystems())
        .extracting(Replication.FsReport::filesystem)
        .containsExactlyInAnyOrder(data.toString(), sub.toString());
    assertThat(allOf(dst))
        .containsExactlyInAnyOrder(dst.root(), rootFs, target, target.child("sub"));
    assertThat(dst.snapshotNames(target)).containsExactly("s1");

    snapshot("s2");
    r = pull.run(config("pull"), Replication.Progress.none());
    assertThat(r.ok()).as(r.toString()).isTrue();
    assertThat(r.of(data.toString()).stepsDone()).isEqualTo(1);
    assertThat(r.of(sub.toString()).stepsDone()).isEqualTo(1);
    assertThat(dst.snapshotNames(target.child("sub"))).containsExactly("s1", "s2");
    assertSame(sub, target.child("sub"));

    // the receiver itself refuses a name its mapping does not map, naming it
    assertThatThrownBy(
            () ->
                receiver.receive(
                    new ReceiveSpec(
                        unmapped.toString(),
                        null,
                        new FsVersion(FsVersion.SNAPSHOT, "s1", 1, 1, java.time.Instant.EPOCH),
                        false),
                    java.io.InputStream.nullInputStream()))
        .isInstanceOf(dev.zrepl4j.rpc.RemoteException.class)
        .hasMessageContaining(unmapped + " is not mapped by pull's mapping");
    assertThat(allOf(dst)).noneMatch(p -> p.toString().contains("unmapped"));
  }

  private static final class FsState {
    static final Replication.FsReport.State REPLICATED = Replication.FsReport.State.REPLICATED;
    static final Replication.FsReport.State FAILED = Replication.FsReport.State.FAILED;
  }
}
