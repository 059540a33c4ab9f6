package dev.zrepl4j.replication.filter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.zfs.DatasetPath;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Properties of filters and mappings over a small alphabet of dataset names. */
class DatasetFilterPropertiesTest {

  @Provide
  Arbitrary<DatasetPath> paths() {
    return Arbitraries.of("a", "b", "c").list().ofMinSize(1).ofMaxSize(4).map(DatasetPath::new);
  }

  @Provide
  Arbitrary<String> patterns() {
    var sub = paths().map(p -> p + "<");
    return Arbitraries.oneOf(paths().map(DatasetPath::toString), sub, Arbitraries.just("<"));
  }

  @Provide
  Arbitrary<Map<String, Boolean>> rules() {
    return Arbitraries.maps(patterns(), Arbitraries.of(true, false)).ofMaxSize(6);
  }

  @Property
  void everyIncludedDatasetLiesBelowExactlyOneRoot(
      @ForAll("rules") Map<String, Boolean> rules, @ForAll("paths") DatasetPath dataset) {
    var f = DatasetFilter.of(rules);
    var roots = f.roots();
    if (roots.isEmpty()) {
      assertThat(rules).containsEntry("<", true);
      return;
    }
    var rs = roots.get();
    // none below another, so a recursive listing of them names each dataset once
    for (var a : rs) {
      for (var b : rs) {
        assertThat(a != b && a.hasPrefix(b)).as("%s below %s", a, b).isFalse();
      }
    }
    if (f.test(dataset)) {
      assertThat(rs).anyMatch(dataset::hasPrefix);
    }
  }

  @Property
  void addingASubtreeRuleOnlyChangesDatasetsBelowIt(
      @ForAll("rules") Map<String, Boolean> rules,
      @ForAll("paths") DatasetPath pattern,
      @ForAll boolean value,
      @ForAll("paths") DatasetPath dataset) {
    var key = pattern + "<";
    var before = DatasetFilter.of(rules);
    var more = new HashMap<>(rules);
    more.put(key, value);
    var after = DatasetFilter.of(more);
    if (!dataset.hasPrefix(pattern)) {
      assertThat(after.test(dataset)).isEqualTo(before.test(dataset));
    } else if (!moreSpecificRuleExists(rules, pattern, dataset)) {
      assertThat(after.test(dataset)).isEqualTo(value);
    }
  }

  @Property
  void addingAnExactRuleOnlyChangesThatDataset(
      @ForAll("rules") Map<String, Boolean> rules,
      @ForAll("paths") DatasetPath pattern,
      @ForAll boolean value,
      @ForAll("paths") DatasetPath dataset) {
    var more = new HashMap<>(rules);
    more.put(pattern.toString(), value);
    var after = DatasetFilter.of(more);
    if (dataset.equals(pattern)) {
      assertThat(after.test(dataset)).isEqualTo(value);
    } else {
      assertThat(after.test(dataset)).isEqualTo(DatasetFilter.of(rules).test(dataset));
    }
  }

  @Property
  void subtreeMappingKeepsTheRelativePathAndIsInjective(
      @ForAll("paths") DatasetPath pattern,
      @ForAll("paths") DatasetPath target,
      @ForAll("paths") DatasetPath d1,
      @ForAll("paths") DatasetPath d2) {
    var m = DatasetMapping.of(Map.of(pattern + "<", target.toString()));
    for (var d : List.of(d1, d2)) {
      if (d.hasPrefix(pattern)) {
        assertThat(m.map(d)).hasValue(target.extend(d.trimPrefix(pattern)));
      } else {
        assertThat(m.map(d)).isEmpty();
      }
    }
    if (!d1.equals(d2) && d1.hasPrefix(pattern) && d2.hasPrefix(pattern)) {
      assertThat(m.map(d1)).isNotEqualTo(m.map(d2));
    }
  }

  /** Whether rules has an exact rule for d or a subtree rule longer than pattern above d. */
  private static boolean moreSpecificRuleExists(
      Map<String, Boolean> rules, DatasetPath pattern, DatasetPath d) {
    for (var k : rules.keySet()) {
      if (k.endsWith("<")) {
        var p = DatasetPath.parse(k.substring(0, k.length() - 1));
        if (p.length() > pattern.length() && d.hasPrefix(p)) {
          return true;
        }
      } else if (DatasetPath.parse(k).equals(d)) {
        return true;
      }
    }
    return false;
  }
}
