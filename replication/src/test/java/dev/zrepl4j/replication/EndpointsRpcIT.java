package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.rpc.ErrorCode;
import dev.zrepl4j.rpc.RemoteException;
import dev.zrepl4j.rpc.RpcClient;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.RealZfs;
import dev.zrepl4j.zfs.ReceiveOptions;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Sender, ReceiverEndpoint and SeedSource served by real RpcServers on 127.0.0.1 TCP, the client
 * identity taken from the listener the peer connected to, on real zfs-fuse pools.
 */
class EndpointsRpcIT {
  static FuseFixture src;
  static FuseFixture dst;
  static RealZfs zfs;
  static RpcServer source;
  static RpcServer sink;
  static final List<AutoCloseable> closeables = new ArrayList<>();
  static int sourcePort;
  static int sinkPort1;
  static int sinkPort2;
  static int sinkPortEvil;
  static DatasetPath allowed;
  static DatasetPath secret;
  static DatasetPath sinkRoot;

  @BeforeAll
  static void serve() throws Exception {
    src = FuseFixture.create("rsnd", 192);
    dst = FuseFixture.create("rrcv", 192);
    zfs = src.zfs;
    allowed = src.path("shared");
    secret = src.path("secret");
    zfs.create(allowed, Map.of());
    zfs.create(secret, Map.of());
    sinkRoot = dst.path("sink");
    zfs.create(sinkRoot, Map.of("mountpoint", "none"));

    source = new RpcServer(RpcOptions.defaults());
    source.register(
        "sender", new Sender(zfs, p -> p.hasPrefix(allowed), "push1", SenderOptions.PLAIN));
    source.register(new SeedSource(zfs, p -> p.hasPrefix(allowed)));
    sourcePort = listen(source, "client1");
    sink = new RpcServer(RpcOptions.defaults());
    sink.register(
        "receiver",
        new ReceiverEndpoint(zfs, sinkRoot, Receiver.Mode.SINK, "push1", ReceiverOptions.DEFAULTS));
    sinkPort1 = listen(sink, "client1");
    sinkPort2 = listen(sink, "client2");
    sinkPortEvil = listen(sink, "..");
  }

  static int listen(RpcServer server, String identity) throws IOException {
    var l = server.listenTcp(new InetSocketAddress("127.0.0.1", 0), a -> Optional.of(identity));
    closeables.add(l);
    return l.port();
  }

  static RpcClient client(int port) throws IOException {
    var c = RpcClient.tcp("127.0.0.1", port, Duration.ofSeconds(5), RpcOptions.defaults());
    closeables.add(c);
    return c;
  }

  @AfterAll
  static void stop() throws Exception {
    for (var c : closeables.reversed()) {
      c.close();
    }
    source.close();
    sink.close();
    try (var a = src;
        var b = dst) {
      // closes both
    }
  }

  static FsVersion version(SenderApi sender, DatasetPath fs, String name) throws IOException {
    return sender.listVersions(new FsRequest(fs.toString())).stream()
        .filter(v -> v.name().equals(name))
        .findFirst()
        .orElseThrow();
  }

  static ReceiveResult push(
      SenderApi sender,
      ReceiverApi receiver,
      DatasetPath fs,
      @Nullable FsVersion from,
      FsVersion to)
      throws IOException {
    var spec = new SendSpec(fs.toString(), from, to, "", false, Protection.GUARANTEE_RESUMABILITY);
    ReceiveResult r;
    try (var stream = sender.send(spec)) {
      r = receiver.receive(new ReceiveSpec(fs.toString(), from, to, false), stream);
    }
    sender.sendCompleted(new SendCompleted(fs.toString(), from, to));
    return r;
  }

  static void assertRefused(ThrowingCallable call, ErrorCode code, String message) {
    assertThatThrownBy(call)
        .isInstanceOfSatisfying(RemoteException.class, e -> assertThat(e.code()).isEqualTo(code))
        .hasMessageContaining(message);
  }

  @Test
  void pushesFullAndIncrementalOverTcpIntoTheClientsSubtree() throws IOException {
    var fs = allowed.child("push");
    zfs.create(fs, Map.of());
    Trees.write(src.mounted("shared/push/a.bin"), 11, 600_000);
    zfs.snapshot(List.of(fs), "p1");
    var sender = client(sourcePort).proxy("sender", SenderApi.class);
    var receiver = client(sinkPort1).proxy("receiver", ReceiverApi.class);
    assertThat(sender.listFilesystems())
        .extracting(FsInfo::path)
        .contains(fs.toString())
        .doesNotContain(secret.toString());
    var p1 = version(sender, fs, "p1");
    var r1 = push(sender, receiver, fs, null, p1);
    var target = sinkRoot.child("client1").extend(fs);
    assertThat(r1.target()).isEqualTo(target.toString());
    Trees.write(src.mounted("shared/push/b.bin"), 12, 200_000);
    zfs.snapshot(List.of(fs), "p2");
    var p2 = version(sender, fs, "p2");
    push(sender, receiver, fs, p1, p2);
    var mnt = dst.mountReadOnly(target);
    Trees.assertSameFiles(src.mounted("shared/push"), mnt);
    FuseFixture.unmount(target);
    assertThat(dst.userRefs(target, "p1")).isZero();
    assertThat(dst.userRefs(target, "p2")).isEqualTo(1);
    assertThat(src.userRefs(fs, "p1")).isZero();
    assertThat(src.userRefs(fs, "p2")).isEqualTo(1);
    assertThat(receiver.listFilesystems())
        .contains(new FsInfo(src.name, true, ""), new FsInfo(fs.toString(), false, ""));
    // another identity sees nothing of client1's and cannot reach it
    var other = client(sinkPort2).proxy("receiver", ReceiverApi.class);
    assertThat(other.listFilesystems()).isEmpty();
    assertThat(
            other.listVersionsOf(new FsListRequest(List.of(fs.toString()))).getFirst().versions())
        .isEmpty();
    assertRefused(
        () ->
            other.receive(
                new ReceiveSpec("../client1/" + fs, p1, p2, false), InputStream.nullInputStream()),
        ErrorCode.INVALID_ARGUMENT,
        "..");
    assertThat(dst.userRefs(target, "p2")).isEqualTo(1);
  }

  @Test
  void senderRefusesEveryCallOutsideItsFilter() throws Exception {
    zfs.snapshot(List.of(secret), "x");
    var client = client(sourcePort);
    var sender = client.proxy("sender", SenderApi.class);
    var x = new FsVersion(FsVersion.SNAPSHOT, "x", 1, 1, java.time.Instant.EPOCH);
    var spec = new SendSpec(secret.toString(), null, x, "", false, Protection.GUARANTEE_NOTHING);
    var filter = "is not allowed by the filter";
    assertRefused(
        () -> sender.listVersions(new FsRequest(secret.toString())),
        ErrorCode.INVALID_ARGUMENT,
        filter);
    assertRefused(
        () ->
            sender.listVersionsOf(
                new FsListRequest(List.of(allowed.toString(), secret.toString()))),
        ErrorCode.INVALID_ARGUMENT,
        filter);
    assertRefused(() -> sender.send(spec), ErrorCode.INVALID_ARGUMENT, filter);
    assertRefused(() -> sender.sendDry(spec), ErrorCode.INVALID_ARGUMENT, filter);
    assertRefused(
        () -> sender.sendCompleted(new SendCompleted(secret.toString(), null, x)),
        ErrorCode.INVALID_ARGUMENT,
        filter);
    assertRefused(
        () -> client.call("sender.replicationCursor", new FsRequest(secret.toString()), List.class),
        ErrorCode.INVALID_ARGUMENT,
        filter);
    for (var bad : List.of("", "../" + secret, allowed + "/../secret", allowed + "//x")) {
      assertRefused(() -> sender.listVersions(new FsRequest(bad)), ErrorCode.INVALID_ARGUMENT, "");
    }
    // nothing was held on the refused snapshot
    assertThat(src.userRefs(secret, "x")).isZero();
  }

  @Test
  void seedEndpointsServeAllowedDataAndRefuseTheRestWithTheSeedsText() throws Exception {
    var fs = allowed.child("seed");
    zfs.create(fs, Map.of());
    Trees.write(src.mounted("shared/seed/f.bin"), 21, 100_000);
    zfs.snapshot(List.of(fs), "a");
    Trees.write(src.mounted("shared/seed/g.bin"), 22, 100_000);
    zfs.snapshot(List.of(fs), "b");
    var client = client(sourcePort);
    var all = client.call("FilesystemRequest", new SeedSource.FilesystemRequest(null), List.class);
    assertThat(all).contains(fs.components()).doesNotContain(secret.components());
    var versions =
        List.of(
            client.call(
                "FilesystemVersionsRequest",
                new SeedSource.FilesystemVersionsRequest(fs.components()),
                SeedSource.Version[].class));
    assertThat(versions).extracting(SeedSource.Version::name).containsExactly("a", "b");
    var target = dst.path("seedrecv");
    try (var in =
        client.callStream(
            "InitialTransferRequest",
            new SeedSource.InitialTransferRequest(fs.components(), versions.get(0)))) {
      zfs.receive(target, in, ReceiveOptions.DEFAULTS.withNoMount(true));
    }
    try (var in =
        client.callStream(
            "IncrementalTransferRequest",
            new SeedSource.IncrementalTransferRequest(
                fs.components(), versions.get(0), versions.get(1)))) {
      zfs.receive(target, in, ReceiveOptions.DEFAULTS.withNoMount(true));
    }
    assertThat(dst.versions(target))
        .extracting(v -> v.guidString())
        .containsExactly(versions.get(0).guid().toString(), versions.get(1).guid().toString());
    var acl = "ACL prohibits access to " + secret;
    assertThatThrownBy(
            () ->
                client.call(
                    "FilesystemVersionsRequest",
                    new SeedSource.FilesystemVersionsRequest(secret.components()),
                    List.class))
        .hasMessageContaining(acl);
    assertThatThrownBy(
            () ->
                client.callStream(
                    "InitialTransferRequest",
                    new SeedSource.InitialTransferRequest(secret.components(), versions.get(0))))
        .hasMessageContaining(acl);
    assertThatThrownBy(
            () ->
                client.callStream(
                    "IncrementalTransferRequest",
                    new SeedSource.IncrementalTransferRequest(
                        secret.components(), versions.get(0), versions.get(1))))
        .hasMessageContaining(acl);
  }

  @Test
  void receiverRefusesEscapingNamesAndBadIdentitiesAndNeverForcesRealData() throws Exception {
    var fs = allowed.child("real");
    zfs.create(fs, Map.of());
    zfs.snapshot(List.of(fs), "r1");
    var sender = client(sourcePort).proxy("sender", SenderApi.class);
    var receiver = client(sinkPort2).proxy("receiver", ReceiverApi.class);
    var r1 = version(sender, fs, "r1");
    push(sender, receiver, fs, null, r1);
    var target = sinkRoot.child("client2").extend(fs);
    var before = dst.versions(target);
    // a second full stream into the real (non-placeholder) filesystem: refused, -F never used
    zfs.snapshot(List.of(fs), "r2");
    var r2 = version(sender, fs, "r2");
    var spec = new SendSpec(fs.toString(), null, r2, "", false, Protection.GUARANTEE_NOTHING);
    try (var stream = sender.send(spec)) {
      assertRefused(
          () -> receiver.receive(new ReceiveSpec(fs.toString(), null, r2, false), stream),
          ErrorCode.FAILED_PRECONDITION,
          "not a placeholder");
    }
    assertThat(dst.versions(target)).isEqualTo(before);
    for (var bad :
        List.of("../client1/x", "/" + fs, fs + "/..", "", fs + "//x", "..", "x/../../y")) {
      assertRefused(
          () ->
              receiver.receive(
                  new ReceiveSpec(bad, null, r1, false), new ByteArrayInputStream(new byte[100])),
          ErrorCode.INVALID_ARGUMENT,
          "");
      assertRefused(
          () -> receiver.listVersionsOf(new FsListRequest(List.of(bad))),
          ErrorCode.INVALID_ARGUMENT,
          "");
    }
    var evil = client(sinkPortEvil).proxy("receiver", ReceiverApi.class);
    assertRefused(evil::listFilesystems, ErrorCode.INVALID_ARGUMENT, "client identity");
    assertRefused(
        () ->
            evil.receive(
                new ReceiveSpec(fs.toString(), null, r1, false), InputStream.nullInputStream()),
        ErrorCode.INVALID_ARGUMENT,
        "client identity");
    // nothing appeared outside the clients' subtrees
    assertThat(zfs.listFilesystems(List.of(dst.root()), p -> true))
        .allMatch(
            p ->
                p.equals(dst.root())
                    || p.equals(sinkRoot)
                    || p.hasPrefix(sinkRoot.child("client1"))
                    || p.hasPrefix(sinkRoot.child("client2"))
                    || p.hasPrefix(dst.path("seedrecv")));
  }

  @Test
  void aFullStreamReplacesAPlaceholderWithoutSnapshotsAndKeepsItsChildren() throws IOException {
    var parent = allowed.child("ph");
    var child = parent.child("kid");
    zfs.create(parent, Map.of());
    zfs.create(child, Map.of());
    zfs.snapshot(List.of(child), "k1");
    Trees.write(src.mounted("shared/ph/p.bin"), 31, 150_000);
    zfs.snapshot(List.of(parent), "q1");
    var sender = client(sourcePort).proxy("sender", SenderApi.class);
    var receiver = client(sinkPort1).proxy("receiver", ReceiverApi.class);
    // the child first: the parent becomes a placeholder
    push(sender, receiver, child, null, version(sender, child, "k1"));
    var ptarget = sinkRoot.child("client1").extend(parent);
    assertThat(receiver.listFilesystems()).contains(new FsInfo(parent.toString(), true, ""));
    var r = push(sender, receiver, parent, null, version(sender, parent, "q1"));
    assertThat(r.replacedPlaceholder()).isTrue();
    assertThat(receiver.listFilesystems())
        .contains(
            new FsInfo(parent.toString(), false, ""), new FsInfo(child.toString(), false, ""));
    assertThat(dst.versions(ptarget.child("kid"))).extracting(v -> v.name()).containsExactly("k1");
    var mnt = dst.mountReadOnly(ptarget);
    assertThat(java.nio.file.Files.mismatch(src.mounted("shared/ph/p.bin"), mnt.resolve("p.bin")))
        .isEqualTo(-1L);
    FuseFixture.unmount(ptarget);
  }
}
