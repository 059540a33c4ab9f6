package dev.zrepl4j.replication.filter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.zfs.DatasetPath;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;

/**
 * {@link DatasetMapping#inverse()} against brute force: rules over the components a, b, c; every
 * dataset of up to 5 components over a, b, c and d (d occurs in no rule) is tried.
 */
class DatasetMappingPropertiesTest {

  private static final List<DatasetPath> ALL = all();

  private static List<DatasetPath> all() {
    var out = new ArrayList<DatasetPath>();
    var level = List.of(DatasetPath.ROOT);
    for (int n = 1; n <= 5; n++) {
      var next = new ArrayList<DatasetPath>();
      for (var p : level) {
        for (var c : List.of("a", "b", "c", "d")) {
          next.add(p.child(c));
        }
      }
      out.addAll(next);
      level = next;
    }
    return out;
  }

  @Provide
  Arbitrary<DatasetPath> paths() {
    return Arbitraries.of("a", "b", "c").list().ofMinSize(1).ofMaxSize(3).map(DatasetPath::new);
  }

  @Provide
  Arbitrary<Map<String, String>> rules() {
    var patterns = Arbitraries.oneOf(paths().map(DatasetPath::toString), paths().map(p -> p + "<"));
    return Arbitraries.maps(patterns, paths().map(DatasetPath::toString)).ofMinSize(1).ofMaxSize(4);
  }

  /**
   * Sound, not complete: two datasets sharing a target always make {@code inverse()} throw, and an
   * inverse it returns is exact. It may refuse a mapping that is one-to-one but that reversed rules
   * cannot express (e.g. {@code {a: b, a<: c/a/a, a/a/a<: c}}: {@code a} itself never reaches
   * {@code c/a/a}, yet the reversed {@code c/a/a<} would send it back to {@code a}) — refused at
   * configuration time, which is safe.
   */
  @Property(tries = 500)
  void inverseIsRefusedWhenTwoDatasetsShareATargetAndExactWhenReturned(
      @ForAll("rules") Map<String, String> rules) {
    var m = DatasetMapping.of(rules);
    var seen = new HashMap<DatasetPath, DatasetPath>();
    DatasetPath[] collision = null;
    for (var d : ALL) {
      var t = m.map(d);
      if (t.isPresent()) {
        var other = seen.putIfAbsent(t.get(), d);
        if (other != null && collision == null) {
          collision = new DatasetPath[] {other, d};
        }
      }
    }
    Statistics.collect(collision == null ? "invertible" : "shares a target");
    if (collision != null) {
      assertThatThrownBy(m::inverse)
          .as("%s and %s share a target", collision[0], collision[1])
          .isInstanceOf(IllegalArgumentException.class);
      return;
    }
    DatasetMapping back;
    try {
      back = m.inverse();
    } catch (IllegalArgumentException e) {
      Statistics.collect("one-to-one but refused");
      assertThat(e).hasMessageContaining("cannot be inverted");
      return;
    }
    for (var d : ALL) {
      var t = m.map(d);
      t.ifPresent(target -> assertThat(back.map(target)).as("back from %s", target).hasValue(d));
    }
    // and nothing else maps back
    for (var t : ALL) {
      back.map(t).ifPresent(d -> assertThat(m.map(d)).as("forth from %s", d).hasValue(t));
    }
  }

  @Property(tries = 200)
  void theRootPatternIsNeverInvertible(@ForAll("rules") Map<String, String> rules) {
    var more = new HashMap<>(rules);
    more.put("<", "r");
    assertThatThrownBy(() -> DatasetMapping.of(more).inverse())
        .hasMessageContaining("rule '<' drops the pool name");
  }
}
