package dev.zrepl4j.replication.filter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.zfs.DatasetPath;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** {@link DatasetMapping#inverse()} and {@link DatasetMapping#relativeTo}. */
class DatasetMappingInverseTest {

  private static DatasetPath p(String s) {
    return DatasetPath.parse(s);
  }

  private static Optional<String> map(DatasetMapping m, String s) {
    return m.map(p(s)).map(DatasetPath::toString);
  }

  @Test
  void aOneToOneMappingThatReversedRulesCannotExpressIsRefused() {
    // found by DatasetMappingPropertiesTest: 'a' goes to b (exact rule), so nothing reaches c/a/a
    // through 'a<' — but the reversed 'c/a/a<' would send a/a/a/a/a's target back to a
    var m = DatasetMapping.of(Map.of("a", "b", "a/a/a<", "c", "a<", "c/a/a", "b", "a"));
    assertThat(map(m, "a/a/a/a/a")).hasValue("c/a/a");
    assertThatThrownBy(m::inverse)
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cannot be inverted");
  }

  @Test
  void subtreeAndExactRulesMapBack() {
    var m = DatasetMapping.of(Map.of("tank/data<", "backup/d", "tank/other", "misc/o"));
    var back = m.inverse();
    assertThat(map(back, "backup/d")).hasValue("tank/data");
    assertThat(map(back, "backup/d/x/y")).hasValue("tank/data/x/y");
    assertThat(map(back, "misc/o")).hasValue("tank/other");
    // gaps and what no dataset maps onto
    assertThat(map(back, "backup")).isEmpty();
    assertThat(map(back, "misc")).isEmpty();
    assertThat(map(back, "misc/o/x")).isEmpty(); // an exact rule does not cover children
    assertThat(map(back, "elsewhere")).isEmpty();
    assertThat(back.inverse()).isSameAs(m);
  }

  @Test
  void aTargetTakenByAMoreSpecificRuleDoesNotMapBack() {
    var m = DatasetMapping.of(Map.of("a<", "x", "a/b", "y"));
    var back = m.inverse();
    assertThat(map(back, "y")).hasValue("a/b");
    assertThat(map(back, "x/c")).hasValue("a/c");
    // a/b goes to y, so nothing maps onto x/b
    assertThat(map(back, "x/b")).isEmpty();
  }

  @Test
  void nestedTargetsAreFineWhereAMoreSpecificRuleTakesTheOverlap() {
    var m = DatasetMapping.of(Map.of("a<", "x", "b<", "x/r", "a/r<", "z"));
    var back = m.inverse();
    assertThat(map(back, "x/r/q")).hasValue("b/q");
    assertThat(map(back, "x/q")).hasValue("a/q");
    assertThat(map(back, "z/q")).hasValue("a/r/q");
  }

  @Test
  void twoRulesOntoOneTargetAreRefused() {
    assertThatThrownBy(() -> DatasetMapping.of(Map.of("a<", "x", "b<", "x")).inverse())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("{a<: x, b<: x}")
        .hasMessageContaining("cannot be inverted")
        .hasMessageContaining("both map onto the subtree x");
    assertThatThrownBy(() -> DatasetMapping.of(Map.of("a", "x", "b", "x")).inverse())
        .hasMessageContaining("both map onto x");
    assertThatThrownBy(() -> DatasetMapping.of(Map.of("a", "x", "b<", "x")).inverse())
        .hasMessageContaining("'b<' maps b onto x");
  }

  @Test
  void aTargetInsideAnotherSubtreeIsRefused() {
    assertThatThrownBy(() -> DatasetMapping.of(Map.of("a<", "x", "b<", "x/r")).inverse())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'a<' maps a/r onto x/r, and 'b<' maps b onto it too");
    assertThatThrownBy(() -> DatasetMapping.of(Map.of("a<", "x", "b", "x/r")).inverse())
        .hasMessageContaining("'a<' maps a/r onto x/r, and 'b' maps b onto it too");
  }

  @Test
  void theRootPatternIsRefused() {
    assertThatThrownBy(() -> DatasetMapping.of(Map.of("<", "backup")).inverse())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("{<: backup}")
        .hasMessageContaining("rule '<' drops the pool name")
        .hasMessageContaining("'POOL<'");
  }

  @Test
  void relativeToTrimsTheRoot() {
    var m = DatasetMapping.of(Map.of("zroot/data<", "pool2/pulled/data", "zroot/x", "pool2/p/y"));
    var rel = m.relativeTo(p("pool2"));
    assertThat(map(rel, "zroot/data/a")).hasValue("pulled/data/a");
    assertThat(map(rel, "zroot/x")).hasValue("p/y");
    assertThatThrownBy(() -> m.relativeTo(p("pool2/pulled")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'zroot/x'")
        .hasMessageContaining("pool2/p/y is not below pool2/pulled");
    assertThatThrownBy(
            () -> DatasetMapping.of(Map.of("a<", "pool2/pulled")).relativeTo(p("pool2/pulled")))
        .hasMessageContaining("'a<'")
        .hasMessageContaining("not below");
    assertThatThrownBy(() -> m.inverse().relativeTo(p("zroot")))
        .isInstanceOf(IllegalStateException.class);
  }
}
