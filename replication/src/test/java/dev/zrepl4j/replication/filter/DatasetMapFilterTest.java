package dev.zrepl4j.replication.filter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.zfs.DatasetPath;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The seed's TestDatasetMapFilter, the probed examples of SEED-SPEC §2.4, and zrepl's syntax. */
class DatasetMapFilterTest {

  private static DatasetPath p(String s) {
    return DatasetPath.parse(s);
  }

  private static Optional<String> map(DatasetMapping m, String s) {
    return m.map(p(s)).map(DatasetPath::toString);
  }

  @Test
  void datasetMapFilter_mapping() {
    var map1 =
        DatasetMapping.of(
            Map.of("a/b/c<", "root1", "a/b<", "root2", "<", "root3/b/c", "q<", "root4/1/2"));
    assertThat(map(map1, "a/b/c")).hasValue("root1");
    assertThat(map(map1, "a/b/c/d")).hasValue("root1/d");
    assertThat(map(map1, "a/b/e")).hasValue("root2/e");
    assertThat(map(map1, "a/b")).hasValue("root2");
    assertThat(map(map1, "x")).hasValue("root3/b/c");
    assertThat(map(map1, "x/y")).hasValue("root3/b/c/y");
    assertThat(map(map1, "q")).hasValue("root4/1/2");
    assertThat(map(map1, "q/r")).hasValue("root4/1/2/r");
  }

  @Test
  void filterRootsAreTheIncludingPatternsNoneBelowAnother() {
    var f =
        DatasetFilter.of(
            Map.of(
                "tank/home<", true,
                "tank/home/tmp<", false,
                "tank/home/bob/keep", true,
                "tank/vm", true,
                "data<", true,
                "data/x<", true,
                "other<", false));
    assertThat(f.roots()).hasValue(java.util.List.of(p("data"), p("tank/home"), p("tank/vm")));
    assertThat(DatasetFilter.of(Map.of("<", true, "tank<", false)).roots()).isEmpty();
    assertThat(DatasetFilter.of(Map.of("<", false, "tank/a", true)).roots())
        .hasValue(java.util.List.of(p("tank/a")));
    assertThat(DatasetFilter.of(Map.of("tank<", false)).roots()).hasValue(java.util.List.of());
    assertThat(DatasetFilter.seed(Map.of("<", "omit", "a<", "ok", "a/b<", "omit")).roots())
        .hasValue(java.util.List.of(p("a")));
  }

  @Test
  void datasetMapFilter_filter() {
    var filter1 = DatasetFilter.seed(Map.of("<", "omit", "a<", "ok", "a/b<", "omit"));
    assertThat(filter1.test(p("b"))).isFalse();
    assertThat(filter1.test(p("a"))).isTrue();
    assertThat(filter1.test(p("a/d"))).isTrue();
    assertThat(filter1.test(p("a/b"))).isFalse();
    assertThat(filter1.test(p("a/b/c"))).isFalse();

    var empty = DatasetFilter.seed(Map.of());
    assertThat(empty.test(p("foo"))).isFalse();
  }

  @Test
  void probedMappingExamples() {
    var m = DatasetMapping.of(Map.of("tank<", "b/t", "tank/legacydb", "lp/ldb", "tank/a<", "x"));
    assertThat(map(m, "tank")).hasValue("b/t");
    assertThat(map(m, "tank/a/b")).hasValue("x/b");
    assertThat(map(m, "tank/legacydb")).hasValue("lp/ldb");
    assertThat(map(m, "tank/legacydb/x")).hasValue("b/t/legacydb/x");
    assertThat(map(m, "zroot")).isEmpty();

    var root = DatasetMapping.of(Map.of("<", "backup"));
    assertThat(map(root, "tank/a")).hasValue("backup/a");
    assertThat(map(root, "tank")).hasValue("backup");
    assertThat(map(root, "zroot")).hasValue("backup");
  }

  @Test
  void docsExampleSelectsTheMostSpecificRule() {
    var m =
        DatasetMapping.of(Map.of("tank<", "rule1", "tank/foo/bar", "rule2", "tank/foo<", "rule3"));
    assertThat(map(m, "tank/foo/bar/loo")).hasValue("rule3/bar/loo");
    assertThat(map(m, "tank/bar")).hasValue("rule1/bar");
    assertThat(map(m, "tank/foo/bar")).hasValue("rule2");
    assertThat(map(m, "zroot")).isEmpty();
    assertThat(map(m, "tank/var/log")).hasValue("rule1/var/log");
  }

  @Test
  void patternErrorsNameThePattern() {
    assertThatThrownBy(() -> DatasetFilter.of(Map.of("a<b", true)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'a<b'")
        .hasMessageContaining("only one '<' at end of string allowed");
    assertThatThrownBy(() -> DatasetFilter.of(Map.of("a<<", true)))
        .hasMessageContaining("'a<<'")
        .hasMessageContaining("forbidden characters");
    assertThatThrownBy(() -> DatasetFilter.of(Map.of("a/<", true)))
        .hasMessageContaining("'a/<'")
        .hasMessageContaining("must not end with a '/'");
    assertThatThrownBy(() -> DatasetFilter.of(Map.of("a@b", true)))
        .hasMessageContaining("forbidden characters");
    assertThatThrownBy(() -> DatasetMapping.of(Map.of("a*", "x"))).hasMessageContaining("'a*'");
  }

  @Test
  void seedFilterValuesAreValidatedWhenBuilt() {
    // the seed accepted `tank<: yes` and failed only when the filter was used
    assertThatThrownBy(() -> DatasetFilter.seed(Map.of("tank<", "yes")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'tank<'")
        .hasMessageContaining("'ok' or 'omit'");
    assertThat(DatasetFilter.seed(Map.of("tank<", "OK")).test(p("tank/x"))).isTrue();
    assertThat(DatasetFilter.seed(Map.of("tank<", "Omit")).test(p("tank/x"))).isFalse();
  }

  @Test
  void mappingTargetsAreValidatedWhenBuilt() {
    assertThatThrownBy(() -> DatasetMapping.of(Map.of("tank<", "bad@target")))
        .hasMessageContaining("'tank<'")
        .hasMessageContaining("forbidden");
    assertThatThrownBy(() -> DatasetMapping.of(Map.of("tank<", "")))
        .hasMessageContaining("'tank<'")
        .hasMessageContaining("empty target");
  }

  @Test
  void zreplFilesystemsSyntax() {
    var rules = new LinkedHashMap<String, Boolean>();
    rules.put("tank<", true);
    rules.put("tank/tmp<", false);
    rules.put("tank/tmp/keep", true);
    var f = DatasetFilter.of(rules);
    assertThat(f.test(p("tank"))).isTrue();
    assertThat(f.test(p("tank/data"))).isTrue();
    assertThat(f.test(p("tank/tmp"))).isFalse();
    assertThat(f.test(p("tank/tmp/x"))).isFalse();
    assertThat(f.test(p("tank/tmp/keep"))).isTrue();
    // an exact pattern does not cover children
    assertThat(f.test(p("tank/tmp/keep/child"))).isFalse();
    // no match: excluded
    assertThat(f.test(p("zroot"))).isFalse();
    // component-wise prefixes: tank/tmp< does not match tank/tmpfoo
    assertThat(f.test(p("tank/tmpfoo"))).isTrue();
  }

  @Test
  void exactPatternBeatsAMoreSpecificSubtreePattern() {
    var f = DatasetFilter.of(Map.of("a/b/c<", false, "a/b/c", true));
    assertThat(f.test(p("a/b/c"))).isTrue();
    assertThat(f.test(p("a/b/c/d"))).isFalse();
  }

  @Test
  void allIncludesEveryDataset() {
    assertThat(DatasetFilter.all().test(p("anything/at/all"))).isTrue();
    assertThat(DatasetFilter.all().test(p("zroot"))).isTrue();
  }
}
