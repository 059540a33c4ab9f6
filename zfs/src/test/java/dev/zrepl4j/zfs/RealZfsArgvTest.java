package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.zfs.FilesystemVersion.FullName;
import dev.zrepl4j.zfs.SendRequest.SendFlag;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command lines RealZfs builds for each dialect, recorded by a mock {@code zfs}. */
class RealZfsArgvTest {
  @TempDir Path dir;
  Path log;
  Path stdout;
  List<String> bin;

  @BeforeEach
  void mock() throws IOException {
    log = dir.resolve("argv.log");
    stdout = dir.resolve("stdout");
    Files.writeString(stdout, "");
    var p = dir.resolve("zfs");
    Files.writeString(
        p,
        "#!/bin/sh\nfor a in \"$@\"; do printf '%s|' \"$a\"; done >> "
            + log
            + "\necho >> "
            + log
            + "\ncat "
            + stdout
            + "\ncat > /dev/null\n");
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
    bin = List.of(p.toString());
  }

  private List<String> calls() throws IOException {
    return Files.exists(log) ? Files.readAllLines(log) : List.of();
  }

  private static FullName n(String s) {
    return FilesystemVersion.parseFullName(s);
  }

  @Test
  void openZfsBatchesSnapshotsDestroysAndListing() throws IOException {
    var z = RealZfs.withCapabilities(bin, bin, ZfsCapabilities.openZfs("zfs-2.3.1"));
    z.snapshot(List.of(DatasetPath.parse("p/a"), DatasetPath.parse("p/b b")), "s1");
    z.destroyVersions(List.of(n("p/a@s1"), n("p/a@s2"), n("p/b b@s1"), n("p/a#bm")));
    z.listVersions(List.of(DatasetPath.parse("p/a"), DatasetPath.parse("p/b b")));
    assertThat(calls())
        .containsExactly(
            "snapshot|p/a@s1|p/b b@s1|",
            "destroy|p/a@s1,s2|",
            "destroy|p/b b@s1|",
            "destroy|p/a#bm|",
            "list|-H|-p|-o|name,guid,createtxg,creation,userrefs|-t|snapshot,bookmark|-d|1|-s|createtxg|p/a|p/b b|");
    assertThat(z.invocations()).isEqualTo(5);
  }

  @Test
  void legacyDegradesSnapshotsDestroysAndListing() throws IOException {
    var z = RealZfs.withCapabilities(bin, bin, ZfsCapabilities.legacy("zfs-fuse"));
    z.snapshot(List.of(DatasetPath.parse("p/a"), DatasetPath.parse("p/b")), "s1");
    z.destroyVersions(List.of(n("p/a@s1"), n("p/a@s2")));
    z.listVersions(List.of(DatasetPath.parse("p/a")));
    assertThat(calls())
        .containsExactly(
            "snapshot|p/a@s1|",
            "snapshot|p/b@s1|",
            "destroy|p/a@s1|",
            "destroy|p/a@s2|",
            "get|-H|-p|-o|name,property,value,source|-d|1|guid,createtxg,creation,userrefs|p/a|");
  }

  @Test
  void openZfsSendAndReceiveOptions() throws IOException {
    var z = RealZfs.withCapabilities(bin, bin, ZfsCapabilities.openZfs("zfs-2.3.1"));
    try (var s =
        z.send(
            SendRequest.incremental(n("p/a#b1"), n("p/a@s2"))
                .with(
                    SendFlag.RAW,
                    SendFlag.COMPRESSED,
                    SendFlag.LARGE_BLOCKS,
                    SendFlag.EMBEDDED,
                    SendFlag.PROPERTIES))) {
      s.readAllBytes();
    }
    try (var s = z.send(SendRequest.resume("1-abc-10-789c"))) {
      s.readAllBytes();
    }
    z.receive(
        DatasetPath.parse("q/a"),
        new ByteArrayInputStream(new byte[100]),
        ReceiveOptions.DEFAULTS
            .withResumable(true)
            .withNoMount(true)
            .withForce(true)
            .withProperties(Map.of("canmount", "off"), List.of("mountpoint")));
    z.abortReceive(DatasetPath.parse("q/a"));
    z.hold("zrepl", List.of(n("p/a@s2")));
    z.release("zrepl", List.of(n("p/a@s2")));
    z.bookmark(n("p/a@s2"), "b2");
    Files.writeString(stdout, "p/a@s2\tzrepl\t1704067200\n");
    assertThat(z.listHolds(List.of(n("p/a@s2")))).hasSize(1);
    Files.writeString(stdout, "full\tp/a@s2\t4096\nsize\t4096\n");
    assertThat(z.estimateSendSize(SendRequest.full(n("p/a@s2")))).isEqualTo(4096);
    Files.writeString(stdout, "q/a\treceive_resume_token\t1-abc-10-789c\t-\n");
    assertThat(z.receiveResumeToken(DatasetPath.parse("q/a"))).hasValue("1-abc-10-789c");
    assertThat(calls())
        .containsExactly(
            "send|-w|-c|-L|-e|-p|-i|p/a#b1|p/a@s2|",
            "send|-t|1-abc-10-789c|",
            "receive|-s|-u|-F|-o|canmount=off|-x|mountpoint|q/a|",
            "receive|-A|q/a|",
            "hold|zrepl|p/a@s2|",
            "release|zrepl|p/a@s2|",
            "bookmark|p/a@s2|p/a#b2|",
            "holds|-H|-p|p/a@s2|",
            "send|-n|-v|-P|p/a@s2|",
            "get|-H|-p|-o|name,property,value,source|receive_resume_token|q/a|");
  }
}
