package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.rpc.ErrorCode;
import dev.zrepl4j.rpc.RemoteException;
import dev.zrepl4j.zfs.DatasetPath;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;

/** Every name a client sends stays below its root, or is refused. */
class ConfinementTest {
  static final DatasetPath ROOT_FS = DatasetPath.of("backup", "sink");

  @Test
  void sinkMapsBelowTheIdentity() throws Exception {
    var root = Receiver.clientRoot(ROOT_FS, Receiver.Mode.SINK, "host1");
    assertThat(root).isEqualTo(DatasetPath.parse("backup/sink/host1"));
    assertThat(Receiver.confine(root, "tank/data"))
        .isEqualTo(DatasetPath.parse("backup/sink/host1/tank/data"));
    assertThat(Receiver.confine(root, "tank/a b:c.d-e_f"))
        .isEqualTo(DatasetPath.parse("backup/sink/host1/tank/a b:c.d-e_f"));
  }

  /** configcheck accepted "my host" and the receiver refused it at run time. */
  @Test
  void issue12_identityWithASpaceIsOneComponentAsZfsAndZreplSay() throws Exception {
    assertThat(Receiver.clientRoot(ROOT_FS, Receiver.Mode.SINK, "my host"))
        .isEqualTo(DatasetPath.parse("backup/sink/my host"));
  }

  @Test
  void localRootMapsTheFullSourcePathBelowRootFs() throws Exception {
    var root = Receiver.clientRoot(ROOT_FS, Receiver.Mode.LOCAL_ROOT, "ignored");
    assertThat(Receiver.confine(root, "tank/data"))
        .isEqualTo(DatasetPath.parse("backup/sink/tank/data"));
  }

  @Test
  void refusesNamesThatEscapeOrAreNotPlainDatasetPaths() {
    for (var bad :
        new String[] {
          "",
          "../x",
          "..",
          "tank/../../x",
          "./x",
          "/abs",
          "tank//x",
          "tank/",
          "tank/x@s",
          "tank/x#b",
          "tank\tx",
          "tank/x\n",
          "tank/%recv",
          "tank/ü",
          "a|b",
          "a*"
        }) {
      assertThatThrownBy(() -> Receiver.confine(ROOT_FS, bad))
          .as(bad)
          .isInstanceOfSatisfying(
              RemoteException.class,
              e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT));
    }
  }

  @Test
  void refusesIdentitiesThatAreNotOneComponent() {
    for (var bad : new String[] {"..", ".", "a/b", "../other", "a@b", "a%b", "x\n", "ü", ""}) {
      assertThatThrownBy(() -> Receiver.clientRoot(ROOT_FS, Receiver.Mode.SINK, bad))
          .as(bad)
          .isInstanceOf(RemoteException.class)
          .hasMessageContaining("not a valid dataset name component");
    }
  }

  @Property(tries = 2000)
  void anyAcceptedNameStaysStrictlyBelowTheRoot(@ForAll String name) {
    DatasetPath target;
    try {
      target = Receiver.confine(ROOT_FS, name);
    } catch (RemoteException e) {
      assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
      return;
    }
    assertThat(target.hasPrefix(ROOT_FS)).isTrue();
    assertThat(target.length()).isGreaterThan(ROOT_FS.length());
    assertThat(target.components()).doesNotContain("", ".", "..");
  }
}
