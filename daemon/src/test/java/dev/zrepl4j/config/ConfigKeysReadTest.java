package dev.zrepl4j.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * No config key is parsed and ignored: every record component reachable from {@link DaemonConfig}
 * is read by production code other than the config parser, or is listed in {@link #NOT_READ_YET}
 * with the issue that will act on it. The README promises that every key is either understood or
 * refused.
 */
class ConfigKeysReadTest {
  /**
   * Components parsed but not acted on yet, each with the work that will act on it. Shrink this
   * list as that work lands; a component read by then makes this test fail until it is removed.
   */
  static final Map<String, String> NOT_READ_YET = Map.of();

  /**
   * Components whose key is refused with "not supported yet" unless it has its default, so that the
   * only value that reaches the model is the one with nothing to do (ConfigParserTest checks the
   * refusals). Acting on the other values removes a component from here.
   */
  static final Map<String, String> ONLY_DEFAULT_ACCEPTED =
      Map.of(
          "DaemonConfig.Monitoring.listenFreebind", "monitoring listen_freebind: true is refused",
          "Serve.Tcp.listenFreebind", "listen_freebind: true is refused",
          "Serve.Tls.listenFreebind", "listen_freebind: true is refused",
          "Job.Send.backupProperties", "send.backup_properties: true is refused",
          "Job.Send.saved", "send.saved: true is refused");

  /** The config parser's classes: reading the model there is building it, not acting on it. */
  static boolean parser(String internalName) {
    var simple = internalName.substring(internalName.lastIndexOf('/') + 1);
    var outer = simple.contains("$") ? simple.substring(0, simple.indexOf('$')) : simple;
    return internalName.startsWith("dev/zrepl4j/config/")
        && (outer.endsWith("Parser") || outer.equals("Yaml"));
  }

  @Test
  void everyConfigComponentIsReadOutsideTheParserOrListedWithItsIssue() {
    var classes = ConfigReadScanner.mainClassesOnClassPath();
    assertThat(classes)
        .as("main classes of rpc, zfs, replication and daemon on the class path")
        .hasSizeGreaterThanOrEqualTo(4);
    var model =
        ConfigReadScanner.components(
            DaemonConfig.class, c -> c.getName().startsWith("dev.zrepl4j."));
    assertThat(model).hasSizeGreaterThan(50);
    var unread = ConfigReadScanner.unread(model, classes, ConfigKeysReadTest::parser);

    var notListed = new TreeSet<>(unread);
    notListed.removeAll(NOT_READ_YET.keySet());
    notListed.removeAll(ONLY_DEFAULT_ACCEPTED.keySet());
    assertThat(notListed)
        .as(
            "config components parsed but read by no code outside the parser: act on each, refuse"
                + " it with \"not supported yet\", or list it in NOT_READ_YET with its issue (or in ONLY_DEFAULT_ACCEPTED)")
        .isEmpty();

    var nowRead = new TreeSet<>(NOT_READ_YET.keySet());
    nowRead.addAll(ONLY_DEFAULT_ACCEPTED.keySet());
    nowRead.removeAll(unread);
    assertThat(nowRead).as("read now: remove from NOT_READ_YET or ONLY_DEFAULT_ACCEPTED").isEmpty();
  }

  // ---------------------------------------------------------------- the scanner on a small model

  /** A model with a component nobody reads, one read only by the "parser", and others read. */
  record Root(Leaf leaf, List<Kind> kinds, String ignored, String parsedOnly) {}

  record Leaf(int count) {}

  sealed interface Kind permits Kind.A, Kind.B {
    String name();

    record A(String name, long size) implements Kind {}

    record B(String name, boolean flag) implements Kind {}
  }

  /** Reads some of the model: directly, through the sealed interface, and by method reference. */
  static final class Reader {
    static long use(Root r) {
      long n = r.leaf().count();
      n += r.kinds().stream().map(Kind::name).count();
      for (var k : r.kinds()) {
        if (k instanceof Kind.A a) {
          n += a.size();
        }
      }
      return n;
    }
  }

  static final class FakeParser {
    static String use(Root r) {
      return r.parsedOnly() + r.kinds().size();
    }
  }

  @Test
  void scannerFindsWhatNobodyReadsAndIgnoresTheParser() {
    var testClasses =
        Path.of(
            ConfigKeysReadTest.class.getProtectionDomain().getCodeSource().getLocation().getPath());
    var model =
        ConfigReadScanner.components(Root.class, c -> c.getName().startsWith("dev.zrepl4j."));
    assertThat(model)
        .extracting(ConfigReadScanner.Component::name)
        .containsExactlyInAnyOrder(
            "ConfigKeysReadTest.Root.leaf",
            "ConfigKeysReadTest.Root.kinds",
            "ConfigKeysReadTest.Root.ignored",
            "ConfigKeysReadTest.Root.parsedOnly",
            "ConfigKeysReadTest.Leaf.count",
            "ConfigKeysReadTest.Kind.A.name",
            "ConfigKeysReadTest.Kind.A.size",
            "ConfigKeysReadTest.Kind.B.name",
            "ConfigKeysReadTest.Kind.B.flag");
    Set<String> unread =
        ConfigReadScanner.unread(
            model,
            List.of(testClasses),
            n -> n.startsWith("dev/zrepl4j/config/ConfigKeysReadTest$FakeParser"));
    assertThat(unread)
        .containsExactlyInAnyOrder(
            "ConfigKeysReadTest.Root.ignored",
            "ConfigKeysReadTest.Root.parsedOnly",
            "ConfigKeysReadTest.Kind.B.flag");
  }
}
