package dev.zrepl4j.config;

import dev.zrepl4j.config.ConfigException.Problem;
import dev.zrepl4j.config.Yaml.Problems;
import dev.zrepl4j.config.Yaml.Value;
import dev.zrepl4j.config.Yaml.YMap;
import dev.zrepl4j.replication.CronSchedule;
import dev.zrepl4j.replication.DatasetFilter;
import dev.zrepl4j.replication.DatasetMapping;
import dev.zrepl4j.replication.InitialPolicy;
import dev.zrepl4j.replication.Protection;
import dev.zrepl4j.replication.PruneRule;
import dev.zrepl4j.replication.ReceiverOptions;
import dev.zrepl4j.replication.ReceiverOptions.PlaceholderEncryption;
import dev.zrepl4j.replication.RetentionGrid;
import dev.zrepl4j.replication.SenderOptions;
import dev.zrepl4j.replication.SnapshotNameFormat;
import dev.zrepl4j.replication.Snapshotter;
import dev.zrepl4j.zfs.DatasetPath;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
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
 */
public final class ConfigParser {

  /** Where {@link #defaultPath()} looks, in order. */
  public static final List<Path> DEFAULT_PATHS =
      List.of(
          Path.of("/etc/zrepl4j/zrepl.yml"),
          Path.of("/etc/zrepl/zrepl.yml"),
          Path.of("/usr/local/etc/zrepl/zrepl.yml"));

  static final Duration DEFAULT_DIAL_TIMEOUT = Duration.ofSeconds(10);
  static final Duration DEFAULT_LOCAL_DIAL_TIMEOUT = Duration.ofSeconds(2);
  static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);
  static final Duration DEFAULT_HOOK_TIMEOUT = Duration.ofSeconds(30);

  private static final String NOT_SUPPORTED = "not supported yet";
  private static final Set<String> KNOWN_JOB_TYPES =
      Set.of("push", "sink", "pull", "source", "snap");
  private static final Pattern PEM =
      Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----\\s*([A-Za-z0-9+/=\\s]*?)\\s*-----END \\1-----");

  private final Problems problems = new Problems();
  private final boolean checkFiles;

  /** Job name → where it was first defined, for duplicates across files. */
  private final Map<String, String> jobNames = new HashMap<>();

  private ConfigParser(boolean checkFiles) {
    this.checkFiles = checkFiles;
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
   * Like {@link #parse(Path)}; with {@code checkFiles} it also checks that every TLS {@code ca},
   * {@code cert} and {@code key} file exists, is readable and holds PEM blocks of the right kind
   * (what {@code configcheck} does without {@code --skip-cert-check}).
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

  // ---------------------------------------------------------------------------------------------
  // files

  private DaemonConfig main(String yaml, Path file) {
    var global = DaemonConfig.Global.defaults();
    var jobs = new ArrayList<Job>();
    var root = compose(yaml, file).flatMap(Value::map);
    if (root.isPresent()) {
      var m = root.get();
      global = m.map("global").flatMap(this::global).orElse(global);
      jobs.addAll(jobs(m));
      m.list("include").ifPresent(l -> include(l, file, jobs));
      m.finish();
    }
    if (problems.count() > 0) {
      throw new ConfigException(problems.list());
    }
    return new DaemonConfig(file, global, jobs);
  }

  private void include(List<Value> entries, Path mainFile, List<Job> jobs) {
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
            includedFile(f, jobs);
          }
        } catch (IOException ex) {
          e.error("cannot list included directory " + p + ": " + ex);
        }
      } else if (Files.isRegularFile(p)) {
        includedFile(p, jobs);
      } else {
        e.error("included file or directory " + p + " does not exist");
      }
    }
  }

  private void includedFile(Path f, List<Job> jobs) {
    String yaml;
    try {
      yaml = Files.readString(f, StandardCharsets.UTF_8);
    } catch (IOException e) {
      problems.add(f, Optional.empty(), "", "cannot read included file: " + e);
      return;
    }
    var root = compose(yaml, f).flatMap(Value::map);
    if (root.isEmpty()) {
      return;
    }
    var m = root.get();
    jobs.addAll(jobs(m));
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
      problems.add(file, mark, "", "invalid YAML: " + e.getProblem());
    } catch (YamlEngineException e) {
      problems.add(file, Optional.empty(), "", "invalid YAML: " + e.getMessage());
    }
    return Optional.empty();
  }

  // ---------------------------------------------------------------------------------------------
  // global

  private Optional<DaemonConfig.Global> global(YMap m) {
    var outlets = new ArrayList<DaemonConfig.LogOutlet>();
    var logging = m.list("logging");
    logging.ifPresent(
        l -> l.forEach(v -> v.map().flatMap(this::logOutlet).ifPresent(outlets::add)));
    if (outlets.isEmpty() && (logging.isEmpty() || logging.get().isEmpty())) {
      outlets.add(DaemonConfig.LogOutlet.defaultStdout());
    }
    Optional<DaemonConfig.Monitoring> monitoring = Optional.empty();
    var mon = m.list("monitoring");
    if (mon.isPresent()) {
      var l = mon.get();
      for (int i = 0; i < l.size(); i++) {
        if (i > 0) {
          l.get(i).error("at most one monitoring endpoint is supported");
        }
        var mm = l.get(i).map();
        if (mm.isPresent()) {
          var got = monitoring(mm.get());
          if (i == 0) {
            monitoring = got;
          }
        }
      }
    }
    var sockpath = DaemonConfig.Global.DEFAULT_CONTROL_SOCKPATH;
    var control = m.map("control");
    if (control.isPresent()) {
      sockpath = control.get().get("sockpath").flatMap(this::absolutePath).orElse(sockpath);
      control.get().finish();
    }
    var sockdir = DaemonConfig.Global.DEFAULT_STDINSERVER_SOCKDIR;
    var serve = m.map("serve");
    if (serve.isPresent()) {
      var stdin = serve.get().map("stdinserver");
      if (stdin.isPresent()) {
        sockdir = stdin.get().get("sockdir").flatMap(this::absolutePath).orElse(sockdir);
        stdin.get().finish();
      }
      serve.get().finish();
    }
    m.finish();
    return Optional.of(new DaemonConfig.Global(outlets, monitoring, sockpath, sockdir));
  }

  private Optional<DaemonConfig.LogOutlet> logOutlet(YMap m) {
    var type = m.requiredString("type");
    var level = oneOf(m, "level", List.of("error", "warn", "info", "debug")).orElse("warn");
    var format = oneOf(m, "format", List.of("human", "logfmt", "json")).orElse("human");
    if (type.isEmpty()) {
      return Optional.empty();
    }
    var d = DaemonConfig.LogOutlet.defaultStdout();
    DaemonConfig.LogOutlet out;
    switch (type.get()) {
      case "stdout" -> {
        out =
            new DaemonConfig.LogOutlet(
                "stdout",
                level,
                format,
                m.bool("time", true),
                m.bool("color", true),
                d.facility(),
                Optional.empty());
      }
      case "syslog" -> {
        var facility =
            oneOf(
                    m,
                    "facility",
                    List.of(
                        "kern",
                        "user",
                        "mail",
                        "daemon",
                        "auth",
                        "syslog",
                        "lpr",
                        "news",
                        "uucp",
                        "cron",
                        "authpriv",
                        "ftp",
                        "local0",
                        "local1",
                        "local2",
                        "local3",
                        "local4",
                        "local5",
                        "local6",
                        "local7"))
                .orElse("local0");
        var _ = m.get("retry_interval").flatMap(Value::duration);
        out =
            new DaemonConfig.LogOutlet(
                "syslog", level, format, false, false, facility, Optional.empty());
      }
      case "tcp" -> {
        var address = m.required("address");
        address.ifPresent(a -> a.string().ifPresent(s -> hostPort(a, s, true)));
        oneOf(m, "net", List.of("tcp", "tcp4", "tcp6"));
        var _ = m.get("retry_interval").flatMap(Value::positiveDuration);
        m.get("tls").ifPresent(v -> v.error(NOT_SUPPORTED + " (TLS for the tcp log outlet)"));
        out =
            new DaemonConfig.LogOutlet(
                "tcp", level, format, false, false, d.facility(), address.flatMap(a -> a.string()));
      }
      default -> {
        m.get("type")
            .ifPresent(
                v ->
                    v.error(
                        "unknown logging outlet type '"
                            + type.get()
                            + "' (expected stdout, syslog or tcp)"));
        return Optional.empty();
      }
    }
    m.finish();
    return Optional.of(out);
  }

  private Optional<DaemonConfig.Monitoring> monitoring(YMap m) {
    var type = m.requiredString("type");
    if (type.isPresent() && !type.get().equals("prometheus")) {
      m.get("type")
          .ifPresent(
              v -> v.error("unknown monitoring type '" + type.get() + "' (expected prometheus)"));
      return Optional.empty();
    }
    var listen = m.required("listen");
    var ok = listen.flatMap(v -> v.string().flatMap(s -> hostPort(v, s, false)).map(h -> s(v)));
    boolean freebind = freebind(m);
    m.finish();
    return ok.map(l -> new DaemonConfig.Monitoring(l, freebind));
  }

  private static String s(Value v) {
    return v.string().orElse("");
  }

  private Optional<Path> absolutePath(Value v) {
    return v.string()
        .flatMap(
            s -> {
              if (!s.startsWith("/")) {
                v.error("must be an absolute path, got '" + s + "'");
                return Optional.empty();
              }
              return v.attempt(() -> Path.of(s));
            });
  }

  // ---------------------------------------------------------------------------------------------
  // jobs

  private List<Job> jobs(YMap root) {
    var out = new ArrayList<Job>();
    root.list("jobs")
        .ifPresent(l -> l.forEach(v -> v.map().flatMap(this::job).ifPresent(out::add)));
    return out;
  }

  private Optional<Job> job(YMap m) {
    int before = problems.count();
    var name = m.required("name").flatMap(this::jobName);
    var typeNode = m.required("type");
    var type = typeNode.flatMap(Value::string);
    if (type.isEmpty()) {
      return Optional.empty();
    }
    var n = name.orElse("");
    Optional<Job> job =
        switch (type.get()) {
          case "push" -> push(m, n);
          case "sink" -> sink(m, n);
          case "pull" -> pull(m, n);
          case "source" -> source(m, n);
          case "snap" -> snap(m, n);
          default -> {
            typeNode
                .orElseThrow()
                .error(
                    "unknown job type '"
                        + type.get()
                        + "' (expected push, sink, pull, source or snap)");
            yield Optional.empty();
          }
        };
    if (!KNOWN_JOB_TYPES.contains(type.get())) {
      return Optional.empty(); // its keys mean nothing: don't report them as unknown
    }
    m.finish();
    return problems.count() > before ? Optional.empty() : job;
  }

  private Optional<String> jobName(Value v) {
    var name = v.string();
    if (name.isEmpty()) {
      return name;
    }
    var n = name.get();
    var bad = componentProblem(n);
    if (bad.isPresent()) {
      v.error("invalid job name '" + n + "': " + bad.get());
      return Optional.empty();
    }
    if (n.startsWith("_")) {
      v.error("invalid job name '" + n + "': names starting with '_' are reserved");
      return Optional.empty();
    }
    var where =
        v.file()
            + ":"
            + v.node()
                .getStartMark()
                .map(mk -> (mk.getLine() + 1) + ":" + (mk.getColumn() + 1))
                .orElse("?");
    var first = jobNames.putIfAbsent(n, where);
    if (first != null) {
      v.error("duplicate job name '" + n + "' (first defined at " + first + ")");
      return Optional.empty();
    }
    return name;
  }

  private Optional<Job> push(YMap m, String name) {
    var connect = m.requiredMap("connect").flatMap(this::connect);
    var filesystems = m.required("filesystems").flatMap(this::filter);
    var send = send(m);
    var snapshotting = m.requiredMap("snapshotting").flatMap(this::snapshotting);
    var pruning = m.requiredMap("pruning").flatMap(this::pruning);
    var replication = replication(m);
    var initial = initialReplication(m);
    var lagObjective = lagObjective(m);
    if (connect.isEmpty() || filesystems.isEmpty() || snapshotting.isEmpty() || pruning.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(
        new Job.Push(
            name,
            connect.get(),
            filesystems.get(),
            send,
            snapshotting.get(),
            pruning.get(),
            replication,
            initial,
            lagObjective));
  }

  /** {@code zrepl4j_lag_objective}: our extension key on active jobs (a positive duration). */
  private static Optional<Duration> lagObjective(YMap m) {
    return m.get("zrepl4j_lag_objective").flatMap(Value::positiveDuration);
  }

  private Optional<Job> sink(YMap m, String name) {
    var rootFs = m.required("root_fs").flatMap(this::rootFs);
    var serve = m.requiredMap("serve").flatMap(this::serve);
    var recv = recv(m);
    var mapping = mapping(m, null);
    if (rootFs.isEmpty() || serve.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(new Job.Sink(name, rootFs.get(), serve.get(), recv, mapping));
  }

  private Optional<Job> pull(YMap m, String name) {
    var connect = m.requiredMap("connect").flatMap(this::connect);
    var rootFs = m.required("root_fs").flatMap(this::rootFs);
    var interval =
        m.required("interval")
            .flatMap(
                v ->
                    v.string()
                        .flatMap(
                            s ->
                                s.equals("manual")
                                    ? Optional.of(Optional.<Duration>empty())
                                    : v.positiveDuration().map(Optional::of)));
    var recv = recv(m);
    var pruning = m.requiredMap("pruning").flatMap(this::pruning);
    var replication = replication(m);
    var initial = initialReplication(m);
    var mapping = mapping(m, rootFs.orElse(null));
    var lagObjective = lagObjective(m);
    if (connect.isEmpty() || rootFs.isEmpty() || interval.isEmpty() || pruning.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(
        new Job.Pull(
            name,
            connect.get(),
            rootFs.get(),
            interval.get(),
            recv,
            pruning.get(),
            replication,
            initial,
            mapping,
            lagObjective));
  }

  private Optional<Job> source(YMap m, String name) {
    var serve = m.requiredMap("serve").flatMap(this::serve);
    var filesystems = m.required("filesystems").flatMap(this::filter);
    var send = send(m);
    var snapshotting = m.requiredMap("snapshotting").flatMap(this::snapshotting);
    if (serve.isEmpty() || filesystems.isEmpty() || snapshotting.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(
        new Job.Source(name, serve.get(), filesystems.get(), send, snapshotting.get()));
  }

  private Optional<Job> snap(YMap m, String name) {
    var filesystems = m.required("filesystems").flatMap(this::filter);
    var snapshotting = m.requiredMap("snapshotting").flatMap(this::snapshotting);
    var pruning = m.requiredMap("pruning");
    Optional<List<PruneRule>> keep = Optional.empty();
    if (pruning.isPresent()) {
      keep = pruning.get().required("keep").flatMap(this::pruneRules);
      pruning.get().finish();
    }
    if (filesystems.isEmpty() || snapshotting.isEmpty() || keep.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(new Job.Snap(name, filesystems.get(), snapshotting.get(), keep.get()));
  }

  // ---------------------------------------------------------------------------------------------
  // datasets

  private Optional<DatasetFilter> filter(Value v) {
    return v.map()
        .flatMap(
            m -> {
              var rules = new LinkedHashMap<String, Boolean>();
              boolean ok = true;
              for (var k : m.keys()) {
                var b = m.get(k).flatMap(Value::bool);
                if (b.isEmpty()) {
                  if (m.get(k).isEmpty()) {
                    m.keyNode(k).ifPresent(kn -> kn.error("expected a bool (true or false)"));
                  }
                  ok = false;
                  continue;
                }
                // validate each pattern on its own so the error names it
                var single =
                    m.keyNode(k).flatMap(kn -> kn.attempt(() -> DatasetFilter.of(Map.of(k, true))));
                if (single.isEmpty()) {
                  ok = false;
                  continue;
                }
                rules.put(k, b.get());
              }
              return ok ? v.attempt(() -> DatasetFilter.of(rules)) : Optional.empty();
            });
  }

  private Optional<Optional<DatasetMapping>> mappingValue(Value v) {
    return v.map()
        .flatMap(
            m -> {
              var rules = new LinkedHashMap<String, String>();
              boolean ok = true;
              for (var k : m.keys()) {
                var target = m.get(k).flatMap(Value::string);
                if (target.isEmpty()) {
                  ok = false;
                  continue;
                }
                var single =
                    m.get(k)
                        .flatMap(t -> t.attempt(() -> DatasetMapping.of(Map.of(k, target.get()))));
                if (single.isEmpty()) {
                  ok = false;
                  continue;
                }
                rules.put(k, target.get());
              }
              return ok
                  ? v.attempt(() -> DatasetMapping.of(rules)).map(Optional::of)
                  : Optional.empty();
            });
  }

  /**
   * {@code mapping:} of a sink (targets relative to {@code root_fs/<client identity>}) or, with
   * {@code pullRootFs}, of a pull job (absolute targets, which must lie below its root_fs). A
   * receiver maps its datasets back into the sender's names, so a mapping that cannot be inverted
   * is refused here.
   */
  private Optional<DatasetMapping> mapping(YMap m, @Nullable DatasetPath pullRootFs) {
    var v = m.get("mapping");
    var mapping = v.flatMap(this::mappingValue).flatMap(o -> o);
    if (v.isEmpty() || mapping.isEmpty()) {
      return Optional.empty();
    }
    var checked = mapping.get();
    return v.get()
        .attempt(
            () -> {
              (pullRootFs == null ? checked : checked.relativeTo(pullRootFs)).inverse();
              return checked;
            });
  }

  private Optional<DatasetPath> rootFs(Value v) {
    return v.string()
        .flatMap(
            s -> {
              if (s.isEmpty()) {
                v.error("must not be empty");
                return Optional.empty();
              }
              for (var c : s.split("/", -1)) {
                var bad = componentProblem(c);
                if (bad.isPresent()) {
                  v.error("invalid dataset name '" + s + "': component '" + c + "' " + bad.get());
                  return Optional.empty();
                }
              }
              return v.attempt(() -> DatasetPath.parse(s));
            });
  }

  /**
   * Why {@code s} is not a valid ZFS dataset name component (zrepl's {@code ComponentNamecheck}),
   * if it is not.
   */
  static Optional<String> componentProblem(String s) {
    if (s.isEmpty()) {
      return Optional.of("must not be empty");
    }
    if (s.length() > 255) {
      return Optional.of("is longer than 255 characters");
    }
    if (s.equals(".") || s.equals("..")) {
      return Optional.of("must not be '.' or '..'");
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean ok =
          (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || c == '-'
              || c == '_'
              || c == '.'
              || c == ':'
              || c == ' ';
      if (!ok) {
        return Optional.of(
            "contains '" + c + "' (allowed: letters, digits, '-', '_', '.', ':' and space)");
      }
    }
    return Optional.empty();
  }

  private Optional<String> clientIdentity(Value v, String identity) {
    var bad = componentProblem(identity);
    if (bad.isPresent()) {
      v.error(
          "invalid client identity '"
              + identity
              + "': "
              + bad.get()
              + " (it must be a valid ZFS dataset name component)");
      return Optional.empty();
    }
    return Optional.of(identity);
  }

  // ---------------------------------------------------------------------------------------------
  // transports

  /** host and port of {@code host:port}, {@code :port} or {@code [v6]:port}. */
  record HostPort(String host, int port) {}

  /** Go's {@code net.SplitHostPort} plus a numeric port; reports at {@code v}. */
  static Optional<HostPort> hostPort(Value v, String s, boolean hostRequired) {
    var hp = splitHostPort(s);
    if (hp instanceof String err) {
      v.error("invalid address '" + s + "': " + err);
      return Optional.empty();
    }
    var h = (HostPort) hp;
    if (hostRequired && h.host().isEmpty()) {
      v.error("invalid address '" + s + "': missing host");
      return Optional.empty();
    }
    return Optional.of(h);
  }

  /** A {@link HostPort} or an error message. */
  static Object splitHostPort(String s) {
    String host;
    String port;
    if (s.startsWith("[")) {
      int end = s.indexOf(']');
      if (end < 0) {
        return "missing ']'";
      }
      host = s.substring(1, end);
      if (end + 1 >= s.length() || s.charAt(end + 1) != ':') {
        return "missing port (expected [HOST]:PORT)";
      }
      port = s.substring(end + 2);
      if (!host.contains(":")) {
        return "brackets are only for IPv6 addresses";
      }
    } else {
      int colon = s.lastIndexOf(':');
      if (colon < 0) {
        return "missing port (expected HOST:PORT or :PORT)";
      }
      host = s.substring(0, colon);
      port = s.substring(colon + 1);
      if (host.contains(":")) {
        return "too many colons (write an IPv6 address as [ADDR]:PORT)";
      }
    }
    if (!port.matches("\\d{1,5}") || Integer.parseInt(port) > 65535) {
      return "port '" + port + "' must be a number from 0 to 65535";
    }
    return new HostPort(host, Integer.parseInt(port));
  }

  private Optional<Connect> connect(YMap m) {
    var type = m.requiredString("type");
    if (type.isEmpty()) {
      return Optional.empty();
    }
    int before = problems.count();
    Optional<Connect> out;
    switch (type.get()) {
      case "tcp" -> {
        var addr = address(m);
        var dial = m.duration("dial_timeout", DEFAULT_DIAL_TIMEOUT);
        out = addr.map(a -> new Connect.Tcp(a.host(), a.port(), dial));
      }
      case "tls" -> {
        var addr = address(m);
        var ca = tlsFile(m, "ca", "CERTIFICATE");
        var cert = tlsFile(m, "cert", "CERTIFICATE");
        var key = tlsFile(m, "key", "PRIVATE KEY");
        var serverCn = m.requiredString("server_cn");
        var dial = m.duration("dial_timeout", DEFAULT_DIAL_TIMEOUT);
        out =
            addr.isEmpty() || ca.isEmpty() || cert.isEmpty() || key.isEmpty() || serverCn.isEmpty()
                ? Optional.empty()
                : Optional.of(
                    new Connect.Tls(
                        addr.get().host(),
                        addr.get().port(),
                        ca.get(),
                        cert.get(),
                        key.get(),
                        serverCn.get(),
                        dial));
      }
      case "ssh+stdinserver" -> {
        var host = m.requiredString("host").filter(h -> nonEmpty(m, "host", h));
        var user = m.requiredString("user").filter(u -> nonEmpty(m, "user", u));
        var port =
            m.required("port")
                .flatMap(
                    v ->
                        v.integer()
                            .filter(
                                p -> {
                                  if (p < 1 || p > 65535) {
                                    v.error("port must be from 1 to 65535, got " + p);
                                    return false;
                                  }
                                  return true;
                                }));
        var identity = m.required("identity_file").flatMap(this::anyPath);
        var options = m.get("options").flatMap(Value::strings).orElse(List.of());
        // zrepl parses these but never uses them
        var _ = m.get("transport_open_command").flatMap(Value::strings);
        var _ = m.get("ssh_command").flatMap(Value::string);
        var dial = m.duration("dial_timeout", DEFAULT_DIAL_TIMEOUT);
        out =
            host.isEmpty() || user.isEmpty() || port.isEmpty() || identity.isEmpty()
                ? Optional.empty()
                : Optional.of(
                    new Connect.Ssh(
                        host.get(), user.get(), port.get(), identity.get(), options, dial));
      }
      case "local" -> {
        var listener =
            m.requiredString("listener_name").filter(l -> nonEmpty(m, "listener_name", l));
        var identity =
            m.required("client_identity")
                .flatMap(v -> v.string().flatMap(s -> clientIdentity(v, s)));
        var dial = m.duration("dial_timeout", DEFAULT_LOCAL_DIAL_TIMEOUT);
        out =
            listener.isEmpty() || identity.isEmpty()
                ? Optional.empty()
                : Optional.of(new Connect.Local(listener.get(), identity.get(), dial));
      }
      default -> {
        m.get("type")
            .ifPresent(
                v ->
                    v.error(
                        "unknown connect type '"
                            + type.get()
                            + "' (expected tcp, tls, ssh+stdinserver or local)"));
        return Optional.empty();
      }
    }
    m.finish();
    return problems.count() > before ? Optional.empty() : out;
  }

  private static boolean nonEmpty(YMap m, String key, String s) {
    if (s.isEmpty()) {
      m.get(key).ifPresent(v -> v.error("must not be empty"));
      return false;
    }
    return true;
  }

  private Optional<HostPort> address(YMap m) {
    return m.required("address").flatMap(v -> v.string().flatMap(s -> hostPort(v, s, true)));
  }

  private Optional<HostPort> listen(YMap m) {
    return m.required("listen").flatMap(v -> v.string().flatMap(s -> hostPort(v, s, false)));
  }

  private Optional<Path> anyPath(Value v) {
    return v.string()
        .flatMap(
            s -> {
              if (s.isEmpty()) {
                v.error("must not be empty");
                return Optional.empty();
              }
              return v.attempt(() -> Path.of(s));
            });
  }

  /** A TLS file key; with {@link #checkFiles}, also that it holds a PEM block of {@code kind}. */
  private Optional<Path> tlsFile(YMap m, String key, String kind) {
    var v = m.required(key);
    var p = v.flatMap(this::anyPath);
    if (checkFiles && p.isPresent()) {
      pemProblem(p.get(), kind).ifPresent(err -> v.orElseThrow().error(err));
    }
    return p;
  }

  /** Why {@code file} is not a readable PEM file with a block whose type contains {@code kind}. */
  static Optional<String> pemProblem(Path file, String kind) {
    if (!Files.exists(file)) {
      return Optional.of("file " + file + " does not exist");
    }
    if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
      return Optional.of("file " + file + " is not a readable file");
    }
    String text;
    try {
      text = Files.readString(file, StandardCharsets.US_ASCII);
    } catch (IOException | RuntimeException e) {
      return Optional.of("cannot read " + file + ": " + e);
    }
    Matcher pem = PEM.matcher(text);
    boolean any = false;
    while (pem.find()) {
      try {
        Base64.getMimeDecoder().decode(pem.group(2));
      } catch (IllegalArgumentException e) {
        return Optional.of(file + ": PEM block " + pem.group(1) + " is not valid base64");
      }
      any |= pem.group(1).contains(kind);
    }
    return any ? Optional.empty() : Optional.of(file + " holds no PEM " + kind + " block");
  }

  private Optional<Serve> serve(YMap m) {
    var type = m.requiredString("type");
    if (type.isEmpty()) {
      return Optional.empty();
    }
    int before = problems.count();
    Optional<Serve> out;
    switch (type.get()) {
      case "tcp" -> {
        var listen = listen(m);
        var freebind = freebind(m);
        var clients = m.requiredMap("clients").flatMap(this::tcpClients);
        out =
            listen.isEmpty() || clients.isEmpty()
                ? Optional.empty()
                : Optional.of(
                    new Serve.Tcp(
                        listen.get().host(), listen.get().port(), freebind, clients.get()));
      }
      case "tls" -> {
        var listen = listen(m);
        var freebind = freebind(m);
        var ca = tlsFile(m, "ca", "CERTIFICATE");
        var cert = tlsFile(m, "cert", "CERTIFICATE");
        var key = tlsFile(m, "key", "PRIVATE KEY");
        var cns = identities(m, "client_cns");
        var handshake = m.duration("handshake_timeout", DEFAULT_HANDSHAKE_TIMEOUT);
        out =
            listen.isEmpty() || ca.isEmpty() || cert.isEmpty() || key.isEmpty() || cns.isEmpty()
                ? Optional.empty()
                : Optional.of(
                    new Serve.Tls(
                        listen.get().host(),
                        listen.get().port(),
                        freebind,
                        ca.get(),
                        cert.get(),
                        key.get(),
                        cns.get(),
                        handshake));
      }
      case "stdinserver" -> out = identities(m, "client_identities").map(Serve.Stdinserver::new);
      case "local" ->
          out =
              m.requiredString("listener_name")
                  .filter(l -> nonEmpty(m, "listener_name", l))
                  .map(Serve.Local::new);
      default -> {
        m.get("type")
            .ifPresent(
                v ->
                    v.error(
                        "unknown serve type '"
                            + type.get()
                            + "' (expected tcp, tls, stdinserver or local)"));
        return Optional.empty();
      }
    }
    m.finish();
    return problems.count() > before ? Optional.empty() : out;
  }

  private static boolean freebind(YMap m) {
    var fb = m.get("listen_freebind");
    boolean b = fb.flatMap(Value::bool).orElse(false);
    if (b) {
      fb.orElseThrow().error(NOT_SUPPORTED + " (listen_freebind: true)");
    }
    return b;
  }

  private Optional<List<String>> identities(YMap m, String key) {
    return m.required(key)
        .flatMap(
            v ->
                v.list()
                    .flatMap(
                        l -> {
                          var out = new ArrayList<String>();
                          boolean ok = true;
                          for (var item : l) {
                            var id = item.string().flatMap(s -> clientIdentity(item, s));
                            ok &= id.isPresent();
                            if (id.isPresent()) {
                              if (out.contains(id.get())) {
                                item.error("duplicate client identity '" + id.get() + "'");
                                ok = false;
                              }
                              out.add(id.get());
                            }
                          }
                          if (ok && out.isEmpty()) {
                            v.error("must list at least one client");
                            ok = false;
                          }
                          return ok ? Optional.of(out) : Optional.empty();
                        }));
  }

  private Optional<Map<String, String>> tcpClients(YMap m) {
    var out = new LinkedHashMap<String, String>();
    boolean ok = true;
    for (var k : m.keys()) {
      var keyNode = m.keyNode(k).orElseThrow();
      var cidr = cidrProblem(k);
      if (cidr.isPresent()) {
        keyNode.error("invalid client address '" + k + "': " + cidr.get());
        ok = false;
      }
      var v = m.get(k);
      if (v.isEmpty()) {
        keyNode.error("missing client identity");
        ok = false;
        continue;
      }
      var id = v.get().string();
      if (id.isEmpty()) {
        ok = false;
        continue;
      }
      if (k.contains("/")) {
        if (!id.get().contains("*")) {
          v.get()
              .error(
                  "the identity of a CIDR client must contain '*' (replaced by the client's"
                      + " address), got '"
                      + id.get()
                      + "'");
          ok = false;
          continue;
        }
        if (clientIdentity(v.get(), id.get().replace("*", "0")).isEmpty()) {
          ok = false;
          continue;
        }
      } else if (clientIdentity(v.get(), id.get()).isEmpty()) {
        ok = false;
        continue;
      }
      out.put(k, id.get());
    }
    if (ok && out.isEmpty()) {
      m.self().error("must list at least one client");
      ok = false;
    }
    return ok ? Optional.of(out) : Optional.empty();
  }

  /** Why {@code s} is not an IP address or CIDR, if it is not. */
  static Optional<String> cidrProblem(String s) {
    var slash = s.indexOf('/');
    var ip = slash < 0 ? s : s.substring(0, slash);
    if (!ip.matches("[0-9.]+|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")) {
      return Optional.of("not an IP address or CIDR");
    }
    InetAddress addr;
    try {
      addr = InetAddress.ofLiteral(ip);
    } catch (IllegalArgumentException e) {
      return Optional.of("not an IP address");
    }
    if (slash >= 0) {
      var bits = s.substring(slash + 1);
      int max = addr.getAddress().length * 8;
      if (!bits.matches("\\d{1,3}") || Integer.parseInt(bits) > max) {
        return Optional.of("prefix length '" + bits + "' must be from 0 to " + max);
      }
    }
    return Optional.empty();
  }

  // ---------------------------------------------------------------------------------------------
  // send / recv / replication

  private Job.Send send(YMap job) {
    var o = job.map("send");
    if (o.isEmpty()) {
      return new Job.Send(SenderOptions.PLAIN, false, false, Job.BandwidthLimit.NONE);
    }
    var m = o.get();
    var options =
        new SenderOptions(
            m.bool("encrypted", false),
            m.bool("raw", false),
            m.bool("compressed", false),
            m.bool("large_blocks", false),
            m.bool("embedded_data", false),
            m.bool("send_properties", false));
    var backup = unsupportedTrue(m, "backup_properties");
    var saved = unsupportedTrue(m, "saved");
    var bw = bandwidth(m);
    m.finish();
    return new Job.Send(options, backup, saved, bw);
  }

  private static boolean unsupportedTrue(YMap m, String key) {
    var v = m.get(key);
    boolean b = v.flatMap(Value::bool).orElse(false);
    if (b) {
      v.orElseThrow().error(NOT_SUPPORTED + " (" + key + ": true)");
    }
    return b;
  }

  private Job.BandwidthLimit bandwidth(YMap parent) {
    var o = parent.map("bandwidth_limit");
    if (o.isEmpty()) {
      return Job.BandwidthLimit.NONE;
    }
    var m = o.get();
    var max = m.get("max");
    long maxBytes =
        max.flatMap(v -> v.parse(DataSizes::parseBytes))
            .orElse(Job.BandwidthLimit.NONE.maxBytesPerSecond());
    long capacity =
        m.get("bucket_capacity")
            .flatMap(
                v ->
                    v.parse(DataSizes::parseBytes)
                        .filter(
                            c -> {
                              if (c <= 0) {
                                v.error("bucket_capacity must be positive");
                              }
                              return c > 0;
                            }))
            .orElse(Job.BandwidthLimit.NONE.bucketCapacity());
    if (max.isPresent()) {
      if (maxBytes == 0 || maxBytes < -1) {
        max.get().error("max must be positive, or -1 B for unlimited");
      } else if (maxBytes > 0) {
        max.get().error(NOT_SUPPORTED + " (a bandwidth limit other than -1 B, unlimited)");
      }
    }
    m.finish();
    return new Job.BandwidthLimit(maxBytes, capacity);
  }

  private Job.Recv recv(YMap job) {
    var o = job.map("recv");
    if (o.isEmpty()) {
      return Job.Recv.DEFAULTS;
    }
    var m = o.get();
    List<String> inherit = List.of();
    Map<String, String> override = Map.of();
    var props = m.map("properties");
    if (props.isPresent()) {
      var p = props.get();
      inherit = p.get("inherit").flatMap(Value::strings).orElse(List.of());
      var ov = p.map("override");
      if (ov.isPresent()) {
        var map = new LinkedHashMap<String, String>();
        for (var k : ov.get().keys()) {
          ov.get()
              .get(k)
              .ifPresentOrElse(
                  v -> v.string().ifPresent(s -> map.put(k, s)),
                  () -> ov.get().keyNode(k).ifPresent(kn -> kn.error("missing value")));
        }
        override = map;
      }
      p.finish();
    }
    var encryption = PlaceholderEncryption.UNSPECIFIED;
    var ph = m.map("placeholder");
    if (ph.isPresent()) {
      encryption =
          oneOf(ph.get(), "encryption", List.of("unspecified", "off", "inherit"))
              .map(s -> PlaceholderEncryption.valueOf(s.toUpperCase(Locale.ROOT)))
              .orElse(PlaceholderEncryption.UNSPECIFIED);
      ph.get().finish();
    }
    var bw = bandwidth(m);
    var finalInherit = inherit;
    var finalOverride = override;
    var finalEncryption = encryption;
    var options =
        (props.isPresent() ? props.get().self() : m.self())
            .attempt(() -> new ReceiverOptions(finalOverride, finalInherit, finalEncryption))
            .orElse(ReceiverOptions.DEFAULTS);
    m.finish();
    return new Job.Recv(options, bw);
  }

  private Job.ReplicationOptions replication(YMap job) {
    var o = job.map("replication");
    var d = Job.ReplicationOptions.DEFAULTS;
    if (o.isEmpty()) {
      return d;
    }
    var m = o.get();
    var initial = d.initial();
    var incremental = d.incremental();
    var protection = m.map("protection");
    var levels = List.of("guarantee_resumability", "guarantee_incremental", "guarantee_nothing");
    if (protection.isPresent()) {
      initial =
          oneOf(protection.get(), "initial", levels).map(ConfigParser::protection).orElse(initial);
      incremental =
          oneOf(protection.get(), "incremental", levels)
              .map(ConfigParser::protection)
              .orElse(incremental);
      protection.get().finish();
    }
    int steps = d.steps();
    int sizeEstimates = d.sizeEstimates();
    var concurrency = m.map("concurrency");
    if (concurrency.isPresent()) {
      steps = positiveInt(concurrency.get(), "steps").orElse(steps);
      sizeEstimates = positiveInt(concurrency.get(), "size_estimates").orElse(sizeEstimates);
      concurrency.get().finish();
    }
    m.finish();
    return new Job.ReplicationOptions(initial, incremental, steps, sizeEstimates);
  }

  private static Protection protection(String s) {
    return Protection.valueOf(s.toUpperCase(Locale.ROOT));
  }

  private InitialPolicy initialReplication(YMap job) {
    var o = job.map("conflict_resolution");
    if (o.isEmpty()) {
      return InitialPolicy.MOST_RECENT;
    }
    var policy =
        oneOf(o.get(), "initial_replication", List.of("most_recent", "all", "fail"))
            .map(s -> InitialPolicy.valueOf(s.toUpperCase(Locale.ROOT)))
            .orElse(InitialPolicy.MOST_RECENT);
    o.get().finish();
    return policy;
  }

  private static Optional<Integer> positiveInt(YMap m, String key) {
    return m.get(key)
        .flatMap(
            v ->
                v.integer()
                    .filter(
                        i -> {
                          if (i < 1) {
                            v.error("must be at least 1, got " + i);
                          }
                          return i >= 1;
                        }));
  }

  /** The key's value if it is one of {@code allowed}; reports anything else. */
  private static Optional<String> oneOf(YMap m, String key, List<String> allowed) {
    return m.get(key)
        .flatMap(
            v ->
                v.string()
                    .filter(
                        s -> {
                          if (!allowed.contains(s)) {
                            v.error(
                                "invalid value '"
                                    + s
                                    + "' (expected "
                                    + String.join(", ", allowed)
                                    + ")");
                            return false;
                          }
                          return true;
                        }));
  }

  // ---------------------------------------------------------------------------------------------
  // snapshotting and pruning

  private Optional<Snapshotting> snapshotting(YMap m) {
    var type = m.requiredString("type");
    if (type.isEmpty()) {
      return Optional.empty();
    }
    int before = problems.count();
    Optional<Snapshotting> out;
    switch (type.get()) {
      case "manual" -> out = Optional.of(new Snapshotting.Manual());
      case "periodic" -> {
        var names = names(m);
        var interval = m.required("interval").flatMap(Value::positiveDuration);
        var hooks = hooks(m);
        out =
            names.isEmpty() || interval.isEmpty()
                ? Optional.empty()
                : Optional.of(new Snapshotting.Periodic(names.get(), interval.get(), hooks));
      }
      case "cron" -> {
        var names = names(m);
        var cron =
            m.required("cron")
                .flatMap(v -> v.parse(s -> CronSchedule.parse(s, ZoneId.systemDefault())));
        var hooks = hooks(m);
        out =
            names.isEmpty() || cron.isEmpty()
                ? Optional.empty()
                : Optional.of(new Snapshotting.Cron(names.get(), cron.get(), hooks));
      }
      default -> {
        m.get("type")
            .ifPresent(
                v ->
                    v.error(
                        "unknown snapshotting type '"
                            + type.get()
                            + "' (expected periodic, cron or manual)"));
        return Optional.empty();
      }
    }
    m.finish();
    return problems.count() > before ? Optional.empty() : out;
  }

  private static Optional<SnapshotNameFormat> names(YMap m) {
    var prefix = m.requiredString("prefix");
    var format = m.get("timestamp_format");
    var location = m.get("timestamp_location");
    var f = format.flatMap(Value::string).orElse("dense");
    var l = location.flatMap(Value::string).orElse("UTC");
    if (prefix.isEmpty()) {
      return Optional.empty();
    }
    // report at the most specific node: the location if given, else the format, else the prefix
    var at =
        location.isPresent()
            ? location.get()
            : format.isPresent() ? format.get() : m.get("prefix").orElseThrow();
    return at.attempt(() -> new SnapshotNameFormat(prefix.get(), f, l));
  }

  private List<Snapshotter.Hook> hooks(YMap m) {
    var out = new ArrayList<Snapshotter.Hook>();
    m.list("hooks").ifPresent(l -> l.forEach(v -> v.map().flatMap(this::hook).ifPresent(out::add)));
    return out;
  }

  private Optional<Snapshotter.Hook> hook(YMap m) {
    var type = m.requiredString("type");
    if (type.isEmpty()) {
      return Optional.empty();
    }
    switch (type.get()) {
      case "command" -> {
        int before = problems.count();
        var path = m.required("path").flatMap(this::absolutePath);
        var timeout = m.duration("timeout", DEFAULT_HOOK_TIMEOUT);
        var fatal = m.bool("err_is_fatal", false);
        var filesystems = m.get("filesystems").flatMap(this::filter).orElse(DatasetFilter.all());
        m.finish();
        if (path.isEmpty() || problems.count() > before) {
          return Optional.empty();
        }
        return m.self()
            .attempt(() -> new Snapshotter.CommandHook(path.get(), timeout, fatal, filesystems));
      }
      case "mysql-lock-tables", "postgres-checkpoint" -> {
        // zrepl: dsn and filesystems required; err_is_fatal (default false) and timeout as above
        int before = problems.count();
        var dsnNode = m.required("dsn");
        var dsn = dsnNode.flatMap(Value::string);
        var timeout = m.duration("timeout", DEFAULT_HOOK_TIMEOUT);
        var fatal = m.bool("err_is_fatal", false);
        var filesystems = m.required("filesystems").flatMap(this::filter);
        m.finish();
        if (dsn.isEmpty() || filesystems.isEmpty() || problems.count() > before) {
          return Optional.empty();
        }
        return dsnNode
            .get()
            .<Snapshotter.PreSnapshot>attempt(
                () ->
                    type.get().equals("postgres-checkpoint")
                        ? PostgresCheckpoint.of(dsn.get(), timeout)
                        : MysqlLockTables.of(dsn.get(), timeout))
            .map(pre -> new Snapshotter.BuiltinHook(pre.toString(), fatal, filesystems.get(), pre));
      }
      default -> {
        m.get("type")
            .ifPresent(
                v ->
                    v.error(
                        "unknown hook type '"
                            + type.get()
                            + "' (expected command, mysql-lock-tables or postgres-checkpoint)"));
        return Optional.empty();
      }
    }
  }

  private Optional<Job.Pruning> pruning(YMap m) {
    var sender = m.required("keep_sender").flatMap(this::pruneRules);
    var receiver = m.required("keep_receiver").flatMap(this::pruneRules);
    m.finish();
    if (sender.isEmpty() || receiver.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(new Job.Pruning(sender.get(), receiver.get()));
  }

  private Optional<List<PruneRule>> pruneRules(Value v) {
    return v.list()
        .flatMap(
            l -> {
              var out = new ArrayList<PruneRule>();
              boolean ok = true;
              for (var item : l) {
                var r = item.map().flatMap(this::pruneRule);
                ok &= r.isPresent();
                r.ifPresent(out::add);
              }
              return ok ? Optional.of(out) : Optional.empty();
            });
  }

  private Optional<PruneRule> pruneRule(YMap m) {
    var type = m.requiredString("type");
    if (type.isEmpty()) {
      return Optional.empty();
    }
    int before = problems.count();
    Optional<PruneRule> out;
    switch (type.get()) {
      case "not_replicated" ->
          out = Optional.of(new PruneRule.NotReplicated(m.bool("keep_snapshot_at_cursor", true)));
      case "last_n" -> {
        var count =
            m.required("count")
                .flatMap(
                    v ->
                        v.integer()
                            .filter(
                                c -> {
                                  if (c < 0) {
                                    v.error("must be >= 0, got " + c);
                                  }
                                  return c >= 0;
                                }));
        var regex = regex(m, false);
        out =
            count.isEmpty() || regex.isEmpty()
                ? Optional.empty()
                : Optional.of(new PruneRule.LastN(count.get(), regex.get()));
      }
      case "grid" -> {
        var grid = m.required("grid").flatMap(v -> v.parse(RetentionGrid::parse));
        var regex = regex(m, false);
        out =
            grid.isEmpty() || regex.isEmpty()
                ? Optional.empty()
                : Optional.of(new PruneRule.Grid(grid.get(), regex.get()));
      }
      case "regex" -> {
        var regex = regex(m, true);
        var negate = m.bool("negate", false);
        out = regex.map(r -> new PruneRule.Regex(r, negate));
      }
      default -> {
        m.get("type")
            .ifPresent(
                v ->
                    v.error(
                        "unknown pruning rule type '"
                            + type.get()
                            + "' (expected not_replicated, last_n, grid or regex)"));
        return Optional.empty();
      }
    }
    m.finish();
    return problems.count() > before ? Optional.empty() : out;
  }

  private static Optional<Pattern> regex(YMap m, boolean required) {
    var v = required ? m.required("regex") : m.get("regex");
    if (v.isEmpty()) {
      return required ? Optional.empty() : Optional.of(Pattern.compile(""));
    }
    return v.get()
        .string()
        .flatMap(
            s -> {
              try {
                return Optional.of(Pattern.compile(s));
              } catch (PatternSyntaxException e) {
                v.get().error("invalid regex '" + s + "': " + e.getDescription());
                return Optional.empty();
              }
            });
  }
}
