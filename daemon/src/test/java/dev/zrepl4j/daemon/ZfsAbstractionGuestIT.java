package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.replication.GuestFixture;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code zrepl4j zfs-abstraction} on OpenZFS 2.x in the test guest ({@code ZREPL4J_ZFS} points at
 * the guest wrapper), where bookmarks and {@code zfs holds} exist: zrepl's cursors, step holds and
 * bookmarks, last-received holds and v1 cursor laid down by their on-disk names beside a user's
 * bookmark, a user's hold and a cursor bookmark whose guid does not fit (tinkered with). list names
 * exactly ours; release-stale (dry run, then for real) releases what zrepl deems stale; release-all
 * --job releases that job's; a user's things are never touched; create step holds.
 */
@Timeout(300)
class ZfsAbstractionGuestIT {
  static final String POOL = "zagsrc";
  static final String FS = POOL + "/data";
  GuestFixture guest;

  @BeforeEach
  void pool() {
    guest = GuestFixture.fromEnvironment();
    guest.createPool(POOL);
    guest.zfs("create", FS).ok();
    for (var s : List.of("s1", "s2", "s3")) {
      guest.sh("echo " + s + " > /" + FS + "/" + s + ".txt");
      guest.zfs("snapshot", FS + "@" + s).ok();
    }
  }

  @AfterEach
  void destroy() {
    if (guest != null) {
      guest.destroyPoolIfExists(POOL);
    }
  }

  Map<String, String> env() {
    return Map.of(
        "ZREPL4J_ZFS", System.getenv("ZREPL4J_GUEST_ZFS"),
        "ZREPL4J_ZPOOL", System.getenv("ZREPL4J_GUEST_ZPOOL"));
  }

  DaemonProcess.Result cli(String... args) throws IOException {
    var r = DaemonProcess.run(env(), args);
    return r;
  }

  String guid(String snap) {
    return String.format("%016x", Long.parseUnsignedLong(guest.prop(FS + "@" + snap, "guid")));
  }

  @Test
  void listReleaseStaleReleaseAllCreateStep() throws Exception {
    String c1 = "zrepl_CURSOR_G_" + guid("s1") + "_J_push";
    String c2 = "zrepl_CURSOR_G_" + guid("s2") + "_J_push";
    String tinkered = "zrepl_CURSOR_G_" + guid("s3") + "_J_push"; // made from s1
    String step1 = "zrepl_STEP_G_" + guid("s1") + "_J_push";
    guest.zfs("bookmark", FS + "@s1", FS + "#" + c1).ok();
    guest.zfs("bookmark", FS + "@s2", FS + "#" + c2).ok();
    guest.zfs("bookmark", FS + "@s1", FS + "#" + tinkered).ok();
    guest.zfs("bookmark", FS + "@s1", FS + "#" + step1).ok();
    guest.zfs("bookmark", FS + "@s2", FS + "#zrepl_replication_cursor").ok();
    guest.zfs("bookmark", FS + "@s1", FS + "#mine").ok();
    for (var s : List.of("s1", "s2", "s3")) {
      guest.zfs("hold", "zrepl_STEP_J_push", FS + "@" + s).ok();
    }
    guest.zfs("hold", "zrepl_last_received_J_sink", FS + "@s1").ok();
    guest.zfs("hold", "zrepl_last_received_J_sink", FS + "@s3").ok();
    guest.zfs("hold", "keepme", FS + "@s1").ok();

    var list = cli("zfs-abstraction", "list", "--fs", FS);
    assertThat(list.exit()).as(list.toString()).isZero();
    assertThat(list.err()).isEmpty();
    assertThat(list.out().lines().toList())
        .containsExactlyInAnyOrder(
            "replication-cursor-bookmark-v2 " + FS + "#" + c1,
            "replication-cursor-bookmark-v2 " + FS + "#" + c2,
            "step-bookmark " + FS + "#" + step1,
            "replication-cursor-bookmark-v1 " + FS + "#zrepl_replication_cursor",
            "step-hold \"zrepl_STEP_J_push\" on " + FS + "@s1",
            "step-hold \"zrepl_STEP_J_push\" on " + FS + "@s2",
            "step-hold \"zrepl_STEP_J_push\" on " + FS + "@s3",
            "last-received-hold \"zrepl_last_received_J_sink\" on " + FS + "@s1",
            "last-received-hold \"zrepl_last_received_J_sink\" on " + FS + "@s3");

    var json =
        cli(
            "zfs-abstraction",
            "list",
            "--json",
            "--type",
            "replication-cursor-bookmark-v2,last-received-hold",
            "--job",
            "push",
            "-p",
            "2");
    assertThat(json.exit()).as(json.toString()).isZero();
    var objects =
        new com.fasterxml.jackson.databind.ObjectMapper()
            .readerFor(Map.class)
            .readValues(json.out())
            .readAll();
    assertThat(objects).hasSize(2);
    assertThat(json.out())
        .contains("\"Type\" : \"replication-cursor-bookmark-v2\"")
        .contains("\"JobID\" : \"push\"");

    var before = guest.versions(FS);
    var dry = cli("zfs-abstraction", "release-stale", "--fs", FS, "--dry-run");
    assertThat(dry.exit()).as(dry.toString()).isZero();
    var stale =
        List.of(
            "replication-cursor-bookmark-v2 " + FS + "#" + c1,
            "step-bookmark " + FS + "#" + step1,
            "step-hold \"zrepl_STEP_J_push\" on " + FS + "@s1",
            "step-hold \"zrepl_STEP_J_push\" on " + FS + "@s2",
            "last-received-hold \"zrepl_last_received_J_sink\" on " + FS + "@s1");
    assertThat(dry.out().lines().toList())
        .containsExactlyInAnyOrderElementsOf(
            stale.stream().map(s -> "would destroy " + s).toList());
    assertThat(guest.versions(FS)).isEqualTo(before);
    assertThat(guest.holds(FS + "@s1")).hasSize(3);

    var rel = cli("zfs-abstraction", "release-stale", "--fs", FS);
    assertThat(rel.exit()).as(rel.toString()).isZero();
    var lines = rel.out().lines().toList();
    // first what will go, then each release
    assertThat(lines.subList(0, stale.size()))
        .containsExactlyInAnyOrderElementsOf(stale.stream().map(s -> "will destroy " + s).toList());
    assertThat(lines.subList(stale.size(), lines.size()))
        .containsExactlyInAnyOrderElementsOf(
            stale.stream().map(s -> "destroy " + s + " ... OK").toList());
    assertThat(guest.holds(FS + "@s1")).containsExactly("keepme");
    assertThat(guest.holds(FS + "@s2")).isEmpty();
    assertThat(guest.holds(FS + "@s3"))
        .containsExactlyInAnyOrder("zrepl_STEP_J_push", "zrepl_last_received_J_sink");
    assertThat(guest.versions(FS))
        .contains("#" + c2, "#" + tinkered, "#mine", "#zrepl_replication_cursor")
        .doesNotContain("#" + c1, "#" + step1);

    // release-all of job push: its cursor and step hold, and (as zrepl) the jobless v1 cursor
    var all = cli("zfs-abstraction", "release-all", "--job", "push", "--fs", FS);
    assertThat(all.exit()).as(all.toString()).isZero();
    assertThat(all.out())
        .contains("destroy replication-cursor-bookmark-v2 " + FS + "#" + c2 + " ... OK")
        .contains("destroy step-hold \"zrepl_STEP_J_push\" on " + FS + "@s3 ... OK")
        .doesNotContain("zrepl_last_received_J_sink");
    assertThat(guest.holds(FS + "@s3")).containsExactly("zrepl_last_received_J_sink");
    assertThat(guest.holds(FS + "@s1")).containsExactly("keepme");
    assertThat(guest.versions(FS))
        .as("a user's bookmark and one whose guid does not fit its name are not ours")
        .contains("#mine", "#" + tinkered)
        .doesNotContain("#" + c2, "#zrepl_replication_cursor");

    var create = cli("zfs-abstraction", "create", "step", "-t", FS + "@s2", "-j", "push");
    assertThat(create.exit()).as(create.toString()).isZero();
    assertThat(create.out().strip()).isEqualTo("step-hold \"zrepl_STEP_J_push\" on " + FS + "@s2");
    assertThat(guest.holds(FS + "@s2")).containsExactly("zrepl_STEP_J_push");
    var badType = cli("zfs-abstraction", "list", "--type", "cursor");
    assertThat(badType.exit()).isEqualTo(1);
    assertThat(badType.err()).contains("unknown abstraction type 'cursor'");
  }
}
