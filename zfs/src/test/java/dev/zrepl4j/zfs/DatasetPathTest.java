package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class DatasetPathTest {

  @Test
  void trimNPrefixCompsLikeTheSeed() {
    var p = DatasetPath.parse("foo/bar/a/b");
    assertThat(p.trimFirst(2).toString()).isEqualTo("a/b");
    assertThat(p.trimFirst(2).trimFirst(2)).isEqualTo(DatasetPath.ROOT);
    assertThat(DatasetPath.ROOT.trimFirst(1).isEmpty()).isTrue();
  }

  @Test
  void emptyStringIsTheRootPath() {
    assertThat(DatasetPath.parse("")).isEqualTo(DatasetPath.ROOT);
    assertThat(DatasetPath.ROOT.length()).isZero();
    assertThat(DatasetPath.ROOT.toString()).isEmpty();
  }

  @Test
  void keepsEmptyLeadingAndMiddleComponents() {
    assertThat(DatasetPath.parse("a//b").components()).containsExactly("a", "", "b");
    assertThat(DatasetPath.parse("/a").components()).containsExactly("", "a");
    assertThat(DatasetPath.parse("a//b").toString()).isEqualTo("a//b");
  }

  @Test
  void rejectsTrailingSlash() {
    assertThatThrownBy(() -> DatasetPath.parse("a/"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("must not end with a '/'");
  }

  @Test
  void rejectsForbiddenCharacters() {
    for (var bad : List.of("a@b", "a#b", "a|b", "a\tb", "a<", "a>b", "a*b", "<")) {
      assertThatThrownBy(() -> DatasetPath.parse(bad))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("forbidden characters");
    }
  }

  @Test
  void acceptsSpacesAndUnicodeWhichZfsAllowsInNames() {
    assertThat(DatasetPath.parse("tank/my data/ü").components())
        .containsExactly("tank", "my data", "ü");
  }

  @Test
  void prefixIsComponentWise() {
    var foo = DatasetPath.parse("tank/foo");
    assertThat(DatasetPath.parse("tank/foobar").hasPrefix(foo)).isFalse();
    assertThat(DatasetPath.parse("tank/foo/bar").hasPrefix(foo)).isTrue();
    assertThat(foo.hasPrefix(foo)).isTrue();
    assertThat(foo.hasPrefix(DatasetPath.ROOT)).isTrue();
    assertThat(DatasetPath.parse("tank").hasPrefix(foo)).isFalse();
  }

  @Test
  void trimPrefixAndExtend() {
    var p = DatasetPath.parse("tank/foo/bar");
    assertThat(p.trimPrefix(DatasetPath.parse("tank"))).isEqualTo(DatasetPath.parse("foo/bar"));
    assertThat(DatasetPath.parse("backup").extend(p.trimFirst(1)).toString())
        .isEqualTo("backup/foo/bar");
    assertThat(p.child("x").toString()).isEqualTo("tank/foo/bar/x");
    assertThat(p.parent().toString()).isEqualTo("tank/foo");
    assertThat(p.pool()).isEqualTo("tank");
    assertThatThrownBy(() -> p.trimPrefix(DatasetPath.parse("tan")))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void equalityIsComponentWise() {
    assertThat(DatasetPath.parse("a/b")).isEqualTo(DatasetPath.of("a", "b"));
    assertThat(DatasetPath.parse("a/b")).hasSameHashCodeAs(DatasetPath.of("a", "b"));
    assertThat(DatasetPath.parse("a/b")).isNotEqualTo(DatasetPath.of("a/b".split("/")[0]));
  }

  @Test
  void componentsMustNotContainSlash() {
    assertThatThrownBy(() -> DatasetPath.of("a/b")).isInstanceOf(IllegalArgumentException.class);
  }
}
