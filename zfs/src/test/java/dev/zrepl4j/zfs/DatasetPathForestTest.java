package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.zfs.DatasetPathForest.VisitedNode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DatasetPathForestTest {

  private static List<String> walk(DatasetPathForest f) {
    var out = new ArrayList<String>();
    f.walkTopDown(
        n -> {
          out.add(n.path() + (n.filledIn() ? " (filled)" : ""));
          return true;
        });
    return out;
  }

  private static DatasetPathForest forest(String... paths) {
    var f = new DatasetPathForest();
    for (var p : paths) {
      f.add(DatasetPath.parse(p));
    }
    return f;
  }

  @Test
  void newDatasetPathTreeBuildsAChain() {
    assertThat(walk(forest("pool1/foo/bar")))
        .containsExactly("pool1 (filled)", "pool1/foo (filled)", "pool1/foo/bar");
  }

  @Test
  void walkTopDownVisitsGapsAsFilledIn() {
    assertThat(walk(forest("pool1", "pool1/foo/bar", "pool1/foo/bar/looloo", "pool2/test/bar")))
        .containsExactly(
            "pool1",
            "pool1/foo (filled)",
            "pool1/foo/bar",
            "pool1/foo/bar/looloo",
            "pool2 (filled)",
            "pool2/test (filled)",
            "pool2/test/bar");
  }

  @Test
  void walkTopDownWorksUnordered() {
    assertThat(walk(forest("pool1", "pool1/foo/bar/looloo", "pool1/foo/bar", "pool1/bang/baz")))
        .containsExactly(
            "pool1",
            "pool1/foo (filled)",
            "pool1/foo/bar",
            "pool1/foo/bar/looloo",
            "pool1/bang (filled)",
            "pool1/bang/baz");
  }

  @Test
  void visitorReturningFalseSkipsTheSubtree() {
    var out = new ArrayList<VisitedNode>();
    forest("a/b/c", "a/d", "e")
        .walkTopDown(
            n -> {
              out.add(n);
              return !n.path().toString().equals("a/b");
            });
    assertThat(out.stream().map(n -> n.path().toString())).containsExactly("a", "a/b", "a/d", "e");
  }
}
