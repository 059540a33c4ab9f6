package dev.zrepl4j.config;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.zrepl4j.fuzz.FuzzHarness;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Fuzzes the YAML config through its public entry point, {@link ConfigParser#parse(String, Path)}
 * (what {@code configcheck} and the daemon read), as a file in a directory that holds a {@code
 * jobs.d/} of two job files for {@code include:} to find. Property ({@link FuzzHarness}): a {@link
 * ConfigException} with a message naming at least one problem, or a config whose job names are
 * unique; allocation under 512 times the input plus 16 MiB. Seeds: the repository's example and
 * test configs ({@code src/test/resources/dev/zrepl4j/config/ConfigFuzzTestInputs}).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ConfigFuzzTest {
  private final FuzzHarness harness = new FuzzHarness("config", ConfigException.class);
  private final Path dir;
  private final Path file;

  ConfigFuzzTest() throws IOException {
    dir = Files.createTempDirectory("config-fuzz");
    file = dir.resolve("zrepl.yml");
    Files.createDirectories(dir.resolve("jobs.d"));
    for (String f : new String[] {"10-pull.yml", "20-more.yml"}) {
      try (var in = ConfigFuzzTest.class.getResourceAsStream("/config/jobs.d/" + f)) {
        Files.write(dir.resolve("jobs.d").resolve(f), in.readAllBytes());
      }
    }
  }

  @FuzzTest(maxDuration = "2s")
  @DictionaryEntries({
    "jobs:",
    "- name: ",
    "type: push",
    "type: sink",
    "type: pull",
    "type: source",
    "type: snap",
    "connect:",
    "serve:",
    "filesystems:",
    "snapshotting:",
    "pruning:",
    "keep_sender:",
    "keep_receiver:",
    "type: grid",
    "grid: 1x1h(keep=all) | 24x1h",
    "type: tls",
    "type: tcp",
    "type: local",
    "include:",
    "jobs.d",
    "global:",
    "logging:",
    "&a",
    "*a",
    "<<: "
  })
  void config(byte[] input) {
    String yaml = new String(input, StandardCharsets.UTF_8);
    harness.check(
        512L * input.length + 16 * 1024 * 1024,
        () -> {
          try {
            var c = ConfigParser.parse(yaml, file);
            var names = new HashSet<String>();
            for (var j : c.jobs()) {
              assertThat(names.add(j.name())).as("unique job name %s", j.name()).isTrue();
            }
          } catch (ConfigException e) {
            assertThat(e.problems()).isNotEmpty();
            throw e;
          }
        });
  }

  /** CI's short pass: the corpus mutated at random (the long run is Jazzer's). */
  @Test
  void survivesMutationsOfItsCorpus() throws Exception {
    harness.mutations(ConfigFuzzTest.class, "config", FuzzHarness.MUTATIONS, this::config);
  }

  @AfterAll
  void counts() throws IOException {
    harness.close();
    try (var files = Files.walk(dir)) {
      for (var p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
