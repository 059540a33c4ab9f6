package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The rules of the package-info notes, checked on the main sources: which of the other packages of
 * {@code dev.zrepl4j.replication} (and {@code rpc}) each package may name, by import or by
 * qualified name.
 */
class PackageRulesTest {
  private static final Path MAIN = Path.of("src/main/java/dev/zrepl4j/replication");
  private static final String ENGINE = "dev.zrepl4j.replication";

  /** A qualified name of ours: {@code dev.zrepl4j.} then package segments and maybe a type. */
  private static final Pattern QUALIFIED = Pattern.compile("\\bdev\\.zrepl4j(?:\\.[\\w*]+)+");

  @Test
  void filterNamesNothingOfTheEnginePruningSnapshottingOrRpc() throws IOException {
    assertThat(forbidden("filter", ref -> false)).isEmpty();
  }

  @Test
  void snapshottingNamesOnlyTheFilter() throws IOException {
    assertThat(forbidden("snapshotting", ref -> ref.startsWith(ENGINE + ".filter."))).isEmpty();
  }

  @Test
  void pruningNamesOnlyTheEnginesZreplNames() throws IOException {
    assertThat(forbidden("pruning", ref -> ref.equals(ENGINE + ".ZreplNames"))).isEmpty();
  }

  @Test
  void theEngineNamesFilterAndPruningButNotSnapshotting() throws IOException {
    assertThat(
            forbidden(
                "",
                ref ->
                    ref.startsWith(ENGINE + ".filter.")
                        || ref.startsWith(ENGINE + ".pruning.")
                        || ref.startsWith("dev.zrepl4j.rpc.")))
        .isEmpty();
  }

  @Test
  void zreplNamesOffersOnlyTheCursorBookmarkTestAndTheJobNameRule() {
    var published =
        Arrays.stream(ZreplNames.class.getDeclaredMethods())
            .filter(m -> Modifier.isPublic(m.getModifiers()))
            .map(m -> m.getName())
            .sorted()
            .toList();
    // pruning protects any job's cursor; configcheck applies the daemon's job name rule (and the
    // rule for a source client's names); `zrepl4j zfs-abstraction` recognizes and makes the names
    // of any job
    assertThat(published)
        .containsExactly(
            "clientJobProblem",
            "cursorHoldTag",
            "isCursorBookmark",
            "jobProblem",
            "lastReceivedHoldTag",
            "parseCursor",
            "parseCursorHold",
            "parseLastReceivedHold",
            "parseStepBookmark",
            "parseStepHold",
            "parseTentativeCursor",
            "stepBookmark",
            "stepHoldTag");
  }

  @Test
  void everyPackageHasANullMarkedPackageInfo() throws IOException {
    for (var pkg : List.of("", "filter", "pruning", "snapshotting")) {
      var info = MAIN.resolve(pkg).resolve("package-info.java");
      assertThat(Files.readString(info)).as(info.toString()).contains("@NullMarked\npackage ");
    }
  }

  @Test
  void theRulesSeeQualifiedNamesAndImportsButNotComments() {
    var src =
        """
        package dev.zrepl4j.replication.filter;

        import dev.zrepl4j.replication.Sender;
        import static dev.zrepl4j.replication.pruning.Pruner.plan;
        /** {@link dev.zrepl4j.replication.Local} */
        // dev.zrepl4j.replication.Push
        class X { dev.zrepl4j.rpc.RpcClient c; String s = "dev.zrepl4j.replication.Pull"; }
        """;
    assertThat(references(src, "dev.zrepl4j.replication.filter"))
        .containsExactly(
            "dev.zrepl4j.replication.Sender",
            "dev.zrepl4j.replication.pruning.Pruner.plan",
            "dev.zrepl4j.rpc.RpcClient");
  }

  /**
   * The names of our other packages that the main sources of {@code pkg} ("" for the engine) use
   * and {@code allowed} does not allow, each as "File.java: name".
   */
  private static List<String> forbidden(String pkg, Predicate<String> allowed) throws IOException {
    var dir = MAIN.resolve(pkg);
    var own = pkg.isEmpty() ? ENGINE : ENGINE + "." + pkg;
    var out = new ArrayList<String>();
    var sources = new ArrayList<Path>();
    try (var files = Files.list(dir)) {
      files.filter(f -> f.toString().endsWith(".java")).sorted().forEach(sources::add);
    }
    assertThat(sources).as("sources in " + dir.toAbsolutePath()).hasSizeGreaterThan(1);
    for (var f : sources) {
      for (var ref : references(Files.readString(f), own)) {
        if (!allowed.test(ref)) {
          out.add(f.getFileName() + ": " + ref);
        }
      }
    }
    return out;
  }

  /**
   * The qualified names of {@code dev.zrepl4j.replication} and {@code dev.zrepl4j.rpc} in {@code
   * source}'s code (not its comments or strings), except those of its own package {@code own}.
   */
  static List<String> references(String source, String own) {
    var code =
        source
            .replaceAll("(?s)/\\*.*?\\*/", " ")
            .replaceAll("//[^\n]*", " ")
            .replaceAll("\"(?:\\\\.|[^\"\\\\\n])*\"", "\"\"")
            .replaceFirst("(?m)^package [\\w.]+;", "");
    var out = new TreeSet<String>();
    var m = QUALIFIED.matcher(code);
    while (m.find()) {
      var ref = m.group();
      boolean ours = ref.startsWith(ENGINE + ".") || ref.startsWith("dev.zrepl4j.rpc.");
      if (ours && !packageOf(ref).equals(own)) {
        out.add(ref);
      }
    }
    return List.copyOf(out);
  }

  /** {@code a.b.C.d} → {@code a.b}: the segments before the first that starts upper-case. */
  private static String packageOf(String ref) {
    var segments = ref.split("\\.");
    var pkg = new ArrayList<String>();
    for (var s : segments) {
      if (s.isEmpty() || !Character.isLowerCase(s.charAt(0))) {
        break;
      }
      pkg.add(s);
    }
    return String.join(".", pkg);
  }
}
