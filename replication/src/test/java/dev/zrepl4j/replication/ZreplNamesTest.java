package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ZreplNamesTest {
  @Test
  void cursorBookmarkHasZreplsNameWith16HexDigitsOfTheGuid() {
    assertThat(ZreplNames.cursorBookmark(0x1234L, "prod_push"))
        .isEqualTo("zrepl_CURSOR_G_0000000000001234_J_prod_push");
    assertThat(ZreplNames.cursorBookmark(-1L, "j"))
        .isEqualTo("zrepl_CURSOR_G_ffffffffffffffff_J_j");
    assertThat(ZreplNames.tentativeCursorBookmark(0xabcL, "j"))
        .isEqualTo("zrepl_CURSORTENTATIVE__G_0000000000000abc_J_j");
  }

  @Test
  void tentativeCursorsOfZreplAndOfEarlierZrepl4jAreBothRecognised() {
    // zrepl: fmt.Sprintf("zrepl_CURSORTENTATIVE_"+"_G_%016x_J_%s", guid, job)
    assertThat(ZreplNames.parseCursorBookmark("zrepl_CURSORTENTATIVE__G_00000000000000ff_J_x"))
        .contains(new ZreplNames.CursorName(true, 255, "x"));
    assertThat(ZreplNames.parseCursorBookmark("zrepl_CURSORTENTATIVE_G_00000000000000ff_J_x"))
        .contains(new ZreplNames.CursorName(true, 255, "x"));
    assertThat(ZreplNames.parseCursorBookmark("zrepl_CURSORTENTATIVE___G_00000000000000ff_J_x"))
        .isEmpty();
    // zrepl 0.0.x's v1 cursor is no cursor of any job (zrepl 0.7 only warns about it)
    assertThat(ZreplNames.parseCursorBookmark("zrepl_replication_cursor")).isEmpty();
  }

  @Test
  void holdTagsHaveZreplsNames() {
    assertThat(ZreplNames.stepHold("j1")).isEqualTo("zrepl_STEP_J_j1");
    assertThat(ZreplNames.lastReceivedHold("j1")).isEqualTo("zrepl_last_received_J_j1");
    assertThat(ZreplNames.cursorHold("j1")).isEqualTo("zrepl_CURSOR_J_j1");
  }

  @Test
  void isCursorBookmarkKnowsTheCursorsOfAnyJobTentativeOrNot() {
    assertThat(ZreplNames.isCursorBookmark(ZreplNames.cursorBookmark(7L, "other"))).isTrue();
    assertThat(ZreplNames.isCursorBookmark(ZreplNames.tentativeCursorBookmark(7L, "j"))).isTrue();
    assertThat(ZreplNames.isCursorBookmark("zrepl_CURSOR_G_123_J_x")).isFalse();
    assertThat(ZreplNames.isCursorBookmark(ZreplNames.cursorHold("j"))).isFalse();
  }

  @Test
  void parsesCursorBookmarksBackIncludingJobsWithUnderscores() {
    var c = ZreplNames.parseCursorBookmark(ZreplNames.cursorBookmark(-2L, "a_J_b")).orElseThrow();
    assertThat(c).isEqualTo(new ZreplNames.CursorName(false, -2L, "a_J_b"));
    var t = ZreplNames.parseCursorBookmark("zrepl_CURSORTENTATIVE_G_00000000000000ff_J_x");
    assertThat(t).contains(new ZreplNames.CursorName(true, 255, "x"));
    assertThat(ZreplNames.parseCursorBookmark("zrepl_CURSOR_G_123_J_x")).isEmpty();
    assertThat(ZreplNames.parseCursorBookmark("zrepl_CUSOR_G_00000000000000ff_J_x")).isEmpty();
    assertThat(ZreplNames.parseCursorBookmark("daily")).isEmpty();
  }

  @Test
  void rejectsJobNamesThatWouldBreakTagsOrBookmarks() {
    for (var bad : new String[] {"", "a b", "a/b", "a@b", "a#b", "a,b", "-x\n", "ü"}) {
      assertThatThrownBy(() -> ZreplNames.stepHold(bad))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("invalid job name");
    }
  }

  @Test
  void aSourceClientsNamesCarryTheJobAndTheClientAndStayWithinTheJobNameRule() {
    assertThat(ZreplNames.clientJob("src", "backup-1.example.com"))
        .isEqualTo("src_C_backup-1.example.com");
    assertThat(ZreplNames.cursorBookmark(0x1234L, ZreplNames.clientJob("src", "b1")))
        .isEqualTo("zrepl_CURSOR_G_0000000000001234_J_src_C_b1");
    assertThat(ZreplNames.parseCursorBookmark("zrepl_CURSOR_G_0000000000001234_J_src_C_b1"))
        .hasValueSatisfying(c -> assertThat(c.job()).isEqualTo("src_C_b1"));
    assertThat(ZreplNames.ofFamily("src_C_b1", "src")).isTrue();
    assertThat(ZreplNames.ofFamily("src", "src")).as("the job's own, before clients").isTrue();
    assertThat(ZreplNames.ofFamily("srcx_C_b1", "src")).isFalse();
    assertThat(ZreplNames.ofFamily("sr", "src")).isFalse();
    assertThatThrownBy(() -> ZreplNames.clientJob("src", "a b"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("client 'a b' of source job src")
        .hasMessageContaining("'src_C_a b'");
    assertThat(ZreplNames.clientJobProblem("src", "x".repeat(122))).isEmpty();
    assertThat(ZreplNames.clientJobProblem("src", "x".repeat(123))).isPresent();
  }
}
