package dev.zrepl4j.rpc;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

class RequiredFieldsTest {
  record Version(String type, String name) {}

  record Spec(String filesystem, @Nullable Version from, Version to, List<String> names) {}

  @Test
  void findsTheFirstNullThatIsNotDeclaredNullable() {
    var ok = new Spec("pool/a", null, new Version("snapshot", "s1"), List.of("x"));
    assertThat(RequiredFields.firstMissing(ok)).isEmpty();
    assertThat(
            RequiredFields.firstMissing(
                new Spec(null, null, new Version("snapshot", "s1"), List.of())))
        .contains("filesystem");
    assertThat(
            RequiredFields.firstMissing(
                new Spec(
                    "pool/a", new Version(null, "s0"), new Version("snapshot", "s1"), List.of())))
        .contains("from.type");
    assertThat(
            RequiredFields.firstMissing(
                new Spec("pool/a", null, new Version("snapshot", null), List.of())))
        .contains("to.name");
    assertThat(
            RequiredFields.firstMissing(
                new Spec("pool/a", null, new Version("snapshot", "s1"), Arrays.asList("a", null))))
        .contains("names[1]");
    assertThat(RequiredFields.firstMissing(null)).isEmpty();
  }
}
