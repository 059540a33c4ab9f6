package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.zfs.FilesystemVersion.FullName;
import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Every operation zfs-fuse supports, on real zfs-fuse pools. */
class FuseZfsIT {
  static FusePools src;
  static FusePools dst;
  static RealZfs zfs;

  @BeforeAll
  static void pools() throws IOException {
    src = FusePools.create("src", "256M");
    dst = FusePools.create("dst", "256M");
    zfs = src.zfs;
  }

  @AfterAll
  static void destroy() throws IOException {
    try (var a = src;
        var b = dst) {
      // closes both
    }
  }

  private static FullName snap(DatasetPath fs, String name) {
    return new FullName(fs, VersionType.SNAPSHOT, name);
  }

  @Test
  void detectsTheLegacyDialectAndItsMissingFeatures() {
    var caps = zfs.capabilities();
    assertThat(caps.openZfs()).isFalse();
    assertThat(caps.has(ZfsFeature.BOOKMARKS)).isFalse();
    assertThat(caps.has(ZfsFeature.LIST_PARSABLE)).isFalse();
    assertThat(caps.has(ZfsFeature.HOLDS_LISTING)).isFalse();
  }

  @Test
  void requestingABookmarkGivesAClearError() throws IOException {
    var fs = src.path("bm");
    zfs.create(fs, Map.of());
    zfs.snapshot(List.of(fs), "s1");
    long before = zfs.invocations();
    assertThatThrownBy(() -> zfs.bookmark(snap(fs, "s1"), "b1"))
        .isInstanceOfSatisfying(
            MissingFeatureException.class,
            e -> assertThat(e.feature()).isEqualTo(ZfsFeature.BOOKMARKS))
        .hasMessageContaining("bookmarks")
        .hasMessageContaining("zfs-fuse");
    assertThat(zfs.invocations()).isEqualTo(before);
  }

  @Test
  void listsFilesystemsWithSpacesAndAFilter() throws IOException {
    var a = src.path("list/a b");
    zfs.create(src.path("list"), Map.of());
    zfs.create(a, Map.of());
    zfs.create(src.path("list/c"), Map.of());
    var all = zfs.listFilesystems(List.of(src.path("list")), p -> true);
    assertThat(all).containsExactly(src.path("list"), a, src.path("list/c"));
    assertThat(zfs.listFilesystems(List.of(src.path("list")), p -> p.equals(a))).containsExactly(a);
  }

  @Test
  void listsVersionsOf200FilesystemsInAFewInvocationsSideBySide() throws IOException {
    var parent = src.path("many");
    zfs.create(parent, Map.of());
    var fss = new ArrayList<DatasetPath>();
    for (int i = 0; i < 200; i++) {
      fss.add(parent.child("fs" + i));
    }
    FuseFixtures.createFilesystems(fss);
    for (int s = 0; s < 10; s++) {
      zfs.zfs(List.of("snapshot", "-r", parent + "@s" + s));
    }
    long before = zfs.invocations();
    var m = zfs.listVersions(fss);
    assertThat(zfs.invocations() - before).isEqualTo(SideBySide.PARALLEL);
    assertThat(m).hasSize(200);
    assertThat(m.keySet()).containsExactlyElementsOf(fss);
    for (var e : m.entrySet()) {
      assertThat(e.getValue())
          .extracting(FilesystemVersion::name)
          .containsExactly("s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9");
      assertThat(e.getValue()).allSatisfy(v -> assertThat(v.userRefs()).isZero());
    }
  }

  @Test
  void snapshotsSeveralFilesystemsOneByOneAndDestroysThem() throws IOException {
    var a = src.path("snap-a");
    var b = src.path("snap-b");
    zfs.create(a, Map.of());
    zfs.create(b, Map.of());
    long before = zfs.invocations();
    zfs.snapshot(List.of(a, b), "x y");
    assertThat(zfs.invocations() - before).isEqualTo(2); // no atomic multi-snapshot on zfs-fuse
    zfs.snapshot(List.of(a), "second");
    var m = zfs.listVersions(List.of(a, b));
    assertThat(m.get(a)).extracting(FilesystemVersion::name).containsExactly("x y", "second");
    assertThat(m.get(b)).extracting(FilesystemVersion::name).containsExactly("x y");
    assertThat(Long.compareUnsigned(m.get(a).get(0).createTxg(), m.get(a).get(1).createTxg()))
        .isNegative();
    zfs.destroyVersions(List.of(snap(a, "x y"), snap(a, "second"), snap(b, "x y")));
    assertThat(zfs.listVersions(List.of(a, b)).values()).allSatisfy(l -> assertThat(l).isEmpty());
  }

  @Test
  void holdsShowInUserrefsAndBlockDestroy() throws IOException {
    var fs = src.path("holds");
    zfs.create(fs, Map.of());
    zfs.snapshot(List.of(fs), "h");
    var s = snap(fs, "h");
    zfs.hold("zrepl_keep", List.of(s));
    zfs.hold("other tag", List.of(s));
    assertThat(zfs.listVersions(List.of(fs)).get(fs).getFirst().userRefs()).isEqualTo(2);
    assertThatThrownBy(() -> zfs.listHolds(List.of(s)))
        .isInstanceOf(MissingFeatureException.class)
        .hasMessageContaining("zfs holds");
    assertThatThrownBy(() -> zfs.destroyVersions(List.of(s)))
        .isInstanceOfSatisfying(ZfsException.class, e -> assertThat(e.stderr()).isNotEmpty());
    zfs.release("zrepl_keep", List.of(s));
    zfs.release("other tag", List.of(s));
    assertThat(zfs.listVersions(List.of(fs)).get(fs).getFirst().userRefs()).isZero();
    zfs.destroyVersions(List.of(s));
  }

  @Test
  void getsSetsAndInheritsPropertiesWithTabsAndUnicode() throws IOException {
    var fs = src.path("props");
    var child = fs.child("child");
    zfs.create(fs, Map.of("zrepl:a", "one"));
    zfs.create(child, Map.of());
    zfs.setProperty(fs.toString(), "zrepl:b", "tab\there ünï ☃");
    var p =
        zfs.getProperties(
            List.of(fs.toString(), child.toString()), List.of("zrepl:a", "zrepl:b", "zrepl:unset"));
    assertThat(p.get(fs.toString()).get("zrepl:a")).isEqualTo(new Property("one", "local"));
    assertThat(p.get(fs.toString()).get("zrepl:b").value()).isEqualTo("tab\there ünï ☃");
    assertThat(p.get(fs.toString()).get("zrepl:unset").isSet()).isFalse();
    assertThat(p.get(child.toString()).get("zrepl:a"))
        .isEqualTo(new Property("one", "inherited from " + fs));
    zfs.setProperty(child.toString(), "zrepl:a", "own");
    zfs.inheritProperty(child.toString(), "zrepl:a");
    var q = zfs.getProperties(List.of(child.toString()), List.of("zrepl:a"));
    assertThat(q.get(child.toString()).get("zrepl:a").value()).isEqualTo("one");
  }

  @Test
  void propertiesOfExistingDatasetsLeaveOutMissingOnesAndStillFailOnOtherErrors()
      throws IOException {
    var fs = src.path("some");
    zfs.create(fs, Map.of("zrepl:a", "x"));
    var names = List.of(src.root().toString(), fs.toString(), fs + "/none", fs + "/none/deeper");
    var p = zfs.getPropertiesOfExisting(names, List.of("zrepl:a"));
    assertThat(p).containsOnlyKeys(src.root().toString(), fs.toString());
    assertThat(p.get(fs.toString()).get("zrepl:a").value()).isEqualTo("x");
    assertThatThrownBy(() -> zfs.getProperties(names, List.of("zrepl:a")))
        .isInstanceOf(ZfsException.class)
        .hasMessageContaining("dataset does not exist");
    assertThatThrownBy(() -> zfs.getPropertiesOfExisting(names, List.of("nosuchproperty")))
        .isInstanceOf(ZfsException.class);
  }

  @Test
  void listsFilesystemsBelowTheRootsThatExistEachOnce() throws IOException {
    var a = src.path("below");
    zfs.create(a, Map.of());
    zfs.create(a.child("x"), Map.of());
    zfs.create(src.path("beside"), Map.of());
    var nope = src.path("nope");
    assertThat(zfs.listFilesystemsBelow(List.of(a, nope, a.child("x")), p -> true))
        .containsExactly(a, a.child("x"));
    assertThat(zfs.listFilesystemsBelow(List.of(a), p -> !p.equals(a)))
        .containsExactly(a.child("x"));
    assertThat(zfs.listFilesystemsBelow(List.of(nope), p -> true)).isEmpty();
    assertThat(zfs.listFilesystemsBelow(List.of(), p -> true)).isEmpty();
  }

  @Test
  void versionsOfExistingFilesystemsLeaveMissingOnesEmpty() throws IOException {
    var fs = src.path("withversions");
    zfs.create(fs, Map.of());
    zfs.snapshot(List.of(fs), "v1");
    var nope = src.path("noversions");
    var got = zfs.listVersionsOfExisting(List.of(fs, nope));
    assertThat(got).containsOnlyKeys(fs, nope);
    assertThat(got.get(fs)).extracting(FilesystemVersion::name).containsExactly("v1");
    assertThat(got.get(nope)).isEmpty();
    assertThatThrownBy(() -> zfs.listVersions(List.of(fs, nope)))
        .isInstanceOf(ZfsException.class)
        .hasMessageContaining("dataset does not exist");
  }

  @Test
  void createsPlaceholders() throws IOException {
    var ph = src.path("ph");
    zfs.createPlaceholder(ph);
    zfs.create(ph.child("inner"), Map.of());
    var p =
        zfs.getProperties(
            List.of(ph.toString(), ph.child("inner").toString()),
            List.of(Zfs.PLACEHOLDER_PROPERTY, "mountpoint"));
    assertThat(Zfs.isPlaceholder(ph, p.get(ph.toString()).get(Zfs.PLACEHOLDER_PROPERTY).value()))
        .isTrue();
    assertThat(p.get(ph.toString()).get("mountpoint").value()).isEqualTo("none");
    // inherited marker does not make the child a placeholder
    var inner = ph.child("inner");
    assertThat(
            Zfs.isPlaceholder(inner, p.get(inner.toString()).get(Zfs.PLACEHOLDER_PROPERTY).value()))
        .isFalse();
  }

  @Test
  void sendsFullIncrementalAndIntermediatesIntoASecondPool() throws IOException {
    var fs = src.path("data");
    zfs.create(fs, Map.of());
    var rnd = new Random(42);
    var f1 = new byte[3 << 20];
    rnd.nextBytes(f1);
    Files.write(src.mounted("data").resolve("one.bin"), f1);
    zfs.snapshot(List.of(fs), "s1");
    var f2 = new byte[1 << 20];
    rnd.nextBytes(f2);
    Files.write(src.mounted("data").resolve("two.bin"), f2);
    zfs.snapshot(List.of(fs), "s2");
    Files.write(src.mounted("data").resolve("three.bin"), f1);
    zfs.snapshot(List.of(fs), "s3");
    zfs.snapshot(List.of(fs), "s4");

    // compare only after the last receive: reading the mounted target updates atime, and zfs-fuse
    // then refuses an incremental receive ("destination has been modified") without -F
    var target = dst.path("data");
    try (var s = zfs.send(SendRequest.full(snap(fs, "s1")))) {
      zfs.receive(target, s, ReceiveOptions.DEFAULTS);
    }
    try (var s = zfs.send(SendRequest.incremental(snap(fs, "s1"), snap(fs, "s2")))) {
      zfs.receive(target, s, ReceiveOptions.DEFAULTS);
    }
    try (var s =
        zfs.send(
            SendRequest.withIntermediates(snap(fs, "s2"), snap(fs, "s4"))
                .with(SendRequest.SendFlag.PROPERTIES))) {
      zfs.receive(target, s, ReceiveOptions.DEFAULTS);
    }
    var mnt = dst.mounted("data");
    assertThat(Files.readAllBytes(mnt.resolve("one.bin"))).isEqualTo(f1);
    assertThat(Files.readAllBytes(mnt.resolve("two.bin"))).isEqualTo(f2);
    assertThat(Files.readAllBytes(mnt.resolve("three.bin"))).isEqualTo(f1);
    var got = zfs.listVersions(List.of(target)).get(target);
    var sent = zfs.listVersions(List.of(fs)).get(fs);
    assertThat(got).extracting(FilesystemVersion::name).containsExactly("s1", "s2", "s3", "s4");
    assertThat(got)
        .extracting(FilesystemVersion::guid)
        .isEqualTo(sent.stream().map(FilesystemVersion::guid).toList());
  }

  @Test
  void receiveOfAnIncrementalWithoutItsBaseFailsWithStderr() throws IOException {
    var fs = src.path("nobase");
    zfs.create(fs, Map.of());
    zfs.snapshot(List.of(fs), "a");
    zfs.snapshot(List.of(fs), "b");
    try (var s = zfs.send(SendRequest.incremental(snap(fs, "a"), snap(fs, "b")))) {
      assertThatThrownBy(() -> zfs.receive(dst.path("nobase"), s, ReceiveOptions.DEFAULTS))
          .isInstanceOfSatisfying(
              ZfsException.class,
              e -> {
                assertThat(e.argv()).contains("receive");
                assertThat(e.stderr()).isNotBlank();
              });
    }
  }

  @Test
  void sendOfAMissingSnapshotFailsTheStreamWithStderr() throws IOException {
    var fs = src.path("nosnap");
    zfs.create(fs, Map.of());
    try (var s = zfs.send(SendRequest.full(snap(fs, "does-not-exist")))) {
      assertThatThrownBy(() -> s.transferTo(OutputStream.nullOutputStream()))
          .isInstanceOfSatisfying(
              ZfsException.class,
              e -> {
                assertThat(e.exitStatus()).isPositive();
                assertThat(e.stderr()).contains("does-not-exist");
              });
    }
  }

  @Test
  void sendKilledMidwayFailsTheReceivingSideWithTheSendersError() throws Exception {
    var fs = src.path("big");
    zfs.create(fs, Map.of());
    var data = new byte[16 << 20];
    new Random(1).nextBytes(data);
    Files.write(src.mounted("big").resolve("big.bin"), data);
    zfs.snapshot(List.of(fs), "s");
    try (var s = zfs.send(SendRequest.full(snap(fs, "s")))) {
      var senders =
          ProcessHandle.current()
              .children()
              .filter(
                  ph -> ph.info().arguments().map(x -> List.of(x).contains("send")).orElse(false))
              .toList();
      assertThat(senders).hasSize(1);
      // kill `zfs send` from outside after 1 MiB went into `zfs receive`, as an OOM killer would
      var killing =
          new java.io.FilterInputStream(s) {
            long n;

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
              int r = super.read(b, off, len);
              n += Math.max(r, 0);
              if (n > (1 << 20)) {
                senders.getFirst().destroyForcibly();
              }
              return r;
            }
          };
      assertThatThrownBy(() -> zfs.receive(dst.path("big"), killing, ReceiveOptions.DEFAULTS))
          .isInstanceOfSatisfying(
              ZfsException.class,
              e -> {
                assertThat(e.argv()).contains("send");
                assertThat(e.exitStatus()).isEqualTo(137);
                assertThat(e.getMessage()).contains("killed by signal 9");
              });
    }
    // Nothing partial is left: zfs-fuse's daemon cleans a partial dataset up asynchronously. Its
    // send runs in the daemon and is not stopped by killing the `zfs send` command, so the stream
    // may still arrive whole before the receive sees its end (with 1 MiB pipes it usually does):
    // then the received snapshot is the sent one, complete.
    var big = dst.path("big");
    var sent = zfs.listVersions(List.of(fs)).get(fs).getFirst();
    for (int i = 0; i < 100; i++) {
      var left = zfs.listFilesystems(List.of(dst.root()), p -> p.equals(big));
      if (left.isEmpty()) {
        return;
      }
      var got = zfs.listVersions(List.of(big)).get(big);
      if (got != null && !got.isEmpty()) {
        assertThat(got).extracting(FilesystemVersion::guid).containsExactly(sent.guid());
        return;
      }
      Thread.sleep(100);
    }
    throw new AssertionError(big + " is still there without a snapshot: a partial receive");
  }

  @Test
  void missingFeaturesDegradeWithoutCrashing() throws IOException {
    var fs = src.path("degrade");
    zfs.create(fs, Map.of("mountpoint", "none"));
    zfs.snapshot(List.of(fs), "s");
    assertThat(zfs.receiveResumeToken(fs)).isEmpty();
    assertThatThrownBy(() -> zfs.estimateSendSize(SendRequest.full(snap(fs, "s"))))
        .isInstanceOf(MissingFeatureException.class);
    assertThatThrownBy(() -> zfs.abortReceive(fs)).isInstanceOf(MissingFeatureException.class);
    assertThatThrownBy(
            () -> zfs.send(SendRequest.full(snap(fs, "s")).with(SendRequest.SendFlag.COMPRESSED)))
        .isInstanceOf(MissingFeatureException.class);
    zfs.destroyFilesystem(fs, true);
    assertThat(zfs.listFilesystems(List.of(src.root()), p -> p.equals(fs))).isEmpty();
  }
}
