package dev.zrepl4j.config;

import dev.zrepl4j.config.ConfigException.Problem;
import dev.zrepl4j.config.Yaml.Problems;
import dev.zrepl4j.config.Yaml.Value;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.schema.CoreSchema;

/**
 * Reads a zrepl 0.6/0.7 configuration file (ZREPL-MODERN.md §1.13) and its {@code include:} files
 * into a {@link DaemonConfig}. Strict like zrepl: unknown keys, wrong types, missing required keys
 * and invalid values are errors naming the file, line, column and YAML path; all of them are
 * collected and thrown together as one {@link ConfigException}. Keys zrepl has but zrepl4j does not
 * implement yet are accepted only with their default value ("not supported yet" otherwise).
 * Stateless and thread-safe.
 *
 * <p>This class reads the files and the document roots; the sections are read by {@link
 * GlobalParser} ({@code global:}), {@link JobParser} ({@code jobs:}), which hands the job's
 * sections to {@link TransportParser}, {@link SnapshottingParser}, {@link PruningParser} and {@link
 * DatasetParser}. docs/CONFIG.md tells how a key travels from YAML to a record.
 */
public final class ConfigParser {

  /** Where {@link #defaultPath()} looks, in order. */
  public static final List<Path> DEFAULT_PATHS =
      List.of(
          Path.of("/etc/zrepl4j/zrepl.yml"),
          Path.of("/etc/zrepl/zrepl.yml"),
          Path.of("/usr/local/etc/zrepl/zrepl.yml"));

  private final Problems problems = new Problems();
  private final TransportParser transports;
  private final JobParser jobs;

  private ConfigParser(boolean checkFiles) {
    this.transports = new TransportParser(checkFiles);
    this.jobs = new JobParser(transports);
  }

  /**
   * Reads and checks {@code file} and the files it includes.
   *
   * @throws ConfigException listing every problem found (an unreadable file is one)
   */
  public static DaemonConfig parse(Path file) throws ConfigException {
    return parse(file, false);
  }

  /**
   * Like {@link #parse(Path)}; with {@code checkFiles} it also loads every TLS {@code ca}, {@code
   * cert} and {@code key} file with the checks the TLS transport runs when it starts (the files
   * parse, the certificates are valid now, the key belongs to the certificate): what {@code
   * configcheck} does without {@code --skip-cert-check}.
   *
   * @throws ConfigException listing every problem found
   */
  public static DaemonConfig parse(Path file, boolean checkFiles) throws ConfigException {
    var p = new ConfigParser(checkFiles);
    String yaml;
    try {
      yaml = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException | RuntimeException e) {
      throw new ConfigException(
          List.of(new Problem(file, 0, 0, "", "cannot read the config file: " + e)));
    }
    return p.main(yaml, file);
  }

  /**
   * Parses {@code yaml} as if read from {@code file} (includes resolve against its directory).
   *
   * @throws ConfigException listing every problem found
   */
  public static DaemonConfig parse(String yaml, Path file) throws ConfigException {
    return new ConfigParser(false).main(yaml, file);
  }

  /** The first of {@link #DEFAULT_PATHS} that exists, if any. */
  public static Optional<Path> defaultPath() {
    return defaultPath(DEFAULT_PATHS);
  }

  static Optional<Path> defaultPath(List<Path> candidates) {
    return candidates.stream().filter(Files::exists).findFirst();
  }

  private DaemonConfig main(String yaml, Path file) {
    var global = DaemonConfig.Global.defaults();
    var all = new ArrayList<Job>();
    var root = compose(yaml, file).flatMap(Value::map);
    if (root.isPresent()) {
      var m = root.get();
      global = m.map("global").flatMap(g -> GlobalParser.global(g, transports)).orElse(global);
      all.addAll(jobs.jobs(m));
      m.list("include").ifPresent(l -> include(l, file, all));
      m.finish();
    }
    if (problems.count() > 0) {
      throw new ConfigException(problems.list());
    }
    return new DaemonConfig(file, global, all);
  }

  private void include(List<Value> entries, Path mainFile, List<Job> all) {
    var dir = mainFile.toAbsolutePath().getParent();
    for (var e : entries) {
      var s = e.string();
      if (s.isEmpty()) {
        continue;
      }
      Path p;
      try {
        p = dir == null ? Path.of(s.get()) : dir.resolve(s.get());
      } catch (RuntimeException ex) {
        e.error("invalid path '" + s.get() + "': " + ex.getMessage());
        continue;
      }
      if (Files.isDirectory(p)) {
        try (Stream<Path> files = Files.list(p)) {
          for (var f :
              files
                  .filter(f -> f.getFileName().toString().endsWith(".yml"))
                  .filter(Files::isRegularFile)
                  .sorted()
                  .toList()) {
            includedFile(f, all);
          }
        } catch (IOException ex) {
          e.error("cannot list included directory " + p + ": " + ex);
        }
      } else if (Files.isRegularFile(p)) {
        includedFile(p, all);
      } else {
        e.error("included file or directory " + p + " does not exist");
      }
    }
  }

  private void includedFile(Path f, List<Job> all) {
    String yaml;
    try {
      yaml = Files.readString(f, StandardCharsets.UTF_8);
    } catch (IOException e) {
      problems.add(f, (Mark) null, "", "cannot read included file: " + e);
      return;
    }
    var root = compose(yaml, f).flatMap(Value::map);
    if (root.isEmpty()) {
      return;
    }
    var m = root.get();
    all.addAll(jobs.jobs(m));
    m.refuseOthers(
        Set.of("jobs"), "not allowed in an included file (included files contain jobs: only)");
    m.finish();
  }

  /** The document's root node; an empty document is an empty map. */
  private Optional<Value> compose(String yaml, Path file) {
    var settings =
        LoadSettings.builder()
            .setLabel(file.toString())
            .setSchema(new CoreSchema())
            .setAllowDuplicateKeys(true) // reported by YMap with the key's path
            .setMaxAliasesForCollections(50)
            .build();
    try {
      var node = new Compose(settings).composeString(yaml);
      if (node.isEmpty()) {
        return Optional.empty();
      }
      return Optional.of(new Value(file, problems, "", node.get()));
    } catch (MarkedYamlEngineException e) {
      var mark = e.getProblemMark().isPresent() ? e.getProblemMark() : e.getContextMark();
      problems.add(file, mark.orElse(null), "", "invalid YAML: " + e.getProblem());
    } catch (YamlEngineException e) {
      problems.add(file, (Mark) null, "", "invalid YAML: " + e.getMessage());
    }
    return Optional.empty();
  }
}
