package dev.zrepl4j.config;

import dev.zrepl4j.config.Yaml.Value;
import dev.zrepl4j.config.Yaml.YMap;
import dev.zrepl4j.replication.InitialPolicy;
import dev.zrepl4j.replication.Protection;
import dev.zrepl4j.replication.ReceiverOptions;
import dev.zrepl4j.replication.ReceiverOptions.PlaceholderEncryption;
import dev.zrepl4j.replication.SenderOptions;
import dev.zrepl4j.replication.Verifier;
import dev.zrepl4j.replication.ZreplNames;
import dev.zrepl4j.replication.filter.DatasetMapping;
import dev.zrepl4j.replication.pruning.PruneRule;
import dev.zrepl4j.rpc.transport.Identities;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Reads {@code jobs:}: each job's name and type, the keys of each type (push, sink, pull, source,
 * snap), and the job-level {@code send}, {@code recv}, {@code replication} and {@code
 * conflict_resolution} sections. It hands {@code connect}/{@code serve} to {@link TransportParser},
 * {@code snapshotting} to {@link SnapshottingParser}, {@code pruning} to {@link PruningParser} and
 * dataset names to {@link DatasetParser}. One instance per parse, since job names must be unique
 * across the main file and its includes; not thread-safe.
 */
final class JobParser {
  private static final Set<String> KNOWN_JOB_TYPES =
      Set.of("push", "sink", "pull", "source", "snap");
  // their names go into hold tags and bookmark names (ZreplNames), a snap job's do not
  private static final Set<String> REPLICATING_JOB_TYPES = Set.of("push", "sink", "pull", "source");

  private final TransportParser transports;

  /** Job name → where it was first defined, for duplicates across files. */
  private final Map<String, String> jobNames = new HashMap<>();

  JobParser(TransportParser transports) {
    this.transports = transports;
  }

  /** The jobs of {@code jobs:} in {@code root} (a main or an included file) that are valid. */
  List<Job> jobs(YMap root) {
    var out = new ArrayList<Job>();
    root.list("jobs")
        .ifPresent(l -> l.forEach(v -> v.map().flatMap(this::job).ifPresent(out::add)));
    return out;
  }

  private Optional<Job> job(YMap m) {
    int before = m.problems().count();
    var nameNode = m.required("name");
    var name = nameNode.flatMap(this::jobName);
    var typeNode = m.required("type");
    var type = typeNode.flatMap(Value::string);
    if (type.isEmpty()) {
      return Optional.empty();
    }
    if (name.isPresent() && REPLICATING_JOB_TYPES.contains(type.get())) {
      var bad = ZreplNames.jobProblem(name.get());
      if (bad.isPresent()) {
        nameNode
            .orElseThrow()
            .error(
                "invalid job name '"
                    + name.get()
                    + "': "
                    + bad.get()
                    + " (a "
                    + type.get()
                    + " job's name becomes part of ZFS hold tags and bookmark names)");
      }
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
    return m.problems().count() > before ? Optional.empty() : job;
  }

  private Optional<String> jobName(Value v) {
    var name = v.string();
    if (name.isEmpty()) {
      return name;
    }
    var n = name.get();
    var bad = Identities.problem(n);
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

  // ---------------------------------------------------------------------------------------------
  // the job types

  private Optional<Job> push(YMap m, String name) {
    var connect = m.requiredMap("connect").flatMap(transports::connect);
    var filesystems = m.required("filesystems").flatMap(DatasetParser::filter);
    var send = send(m);
    var snapshotting = m.requiredMap("snapshotting").flatMap(SnapshottingParser::snapshotting);
    var pruning = m.requiredMap("pruning").flatMap(PruningParser::pruning);
    var replication = replication(m);
    var initial = initialReplication(m);
    var lagObjective = lagObjective(m);
    var verify = verify(m);
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
            lagObjective.orElse(null),
            verify.orElse(null)));
  }

  private Optional<Job> sink(YMap m, String name) {
    var rootFs = m.required("root_fs").flatMap(DatasetParser::rootFs);
    var serve = m.requiredMap("serve").flatMap(transports::serve);
    var recv = recv(m);
    var targets = targets(DatasetParser.mapping(m, null).orElse(null));
    if (rootFs.isEmpty() || serve.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(new Job.Sink(name, rootFs.get(), serve.get(), recv, targets));
  }

  private Optional<Job> pull(YMap m, String name) {
    var connect = m.requiredMap("connect").flatMap(transports::connect);
    var rootFs = m.required("root_fs").flatMap(DatasetParser::rootFs);
    var interval =
        m.required("interval")
            .flatMap(
                v ->
                    v.string()
                        .flatMap(
                            s ->
                                s.equals("manual")
                                    ? Optional.<Job.Interval>of(new Job.Interval.Manual())
                                    : v.positiveDuration().map(Job.Interval.Every::new)));
    var recv = recv(m);
    var pruning = m.requiredMap("pruning").flatMap(PruningParser::pruning);
    var replication = replication(m);
    var initial = initialReplication(m);
    var lagObjective = lagObjective(m);
    var verify = verify(m);
    var targets = targets(DatasetParser.mapping(m, rootFs.orElse(null)).orElse(null));
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
            targets,
            lagObjective.orElse(null),
            verify.orElse(null)));
  }

  /** The client identities a source's {@code serve} names (none for {@code local}). */
  private static List<String> clients(Serve serve) {
    return switch (serve) {
      case Serve.Tcp t -> List.copyOf(t.clients().values());
      case Serve.Tls t -> t.clientCns();
      case Serve.Stdinserver s -> s.clientIdentities();
      case Serve.Local l -> List.of();
    };
  }

  /** {@code zrepl4j_lag_objective}: our extension key on active jobs (a positive duration). */
  private static Optional<Duration> lagObjective(YMap m) {
    return m.get("zrepl4j_lag_objective").flatMap(Value::positiveDuration);
  }

  /**
   * {@code zrepl4j_verify: {interval: D, sample: N}}: our extension key on active jobs, a verify on
   * a schedule; {@code sample} 0 to 64 (default 1).
   */
  private static Optional<Job.Verify> verify(YMap m) {
    var o = m.map("zrepl4j_verify");
    if (o.isEmpty()) {
      return Optional.empty();
    }
    var v = o.get();
    var interval = v.required("interval").flatMap(Value::positiveDuration);
    int sample =
        v.get("sample")
            .flatMap(
                x ->
                    x.integer()
                        .filter(
                            i -> {
                              boolean ok = i >= 0 && i <= Verifier.MAX_SAMPLE;
                              if (!ok) {
                                x.error(
                                    "must be 0 to "
                                        + Verifier.MAX_SAMPLE
                                        + " snapshots per filesystem, got "
                                        + i);
                              }
                              return ok;
                            }))
            .orElse(1);
    v.finish();
    return interval.map(i -> new Job.Verify(i, sample));
  }

  private static Job.Targets targets(@Nullable DatasetMapping mapping) {
    return mapping == null ? new Job.Targets.SenderNames() : new Job.Targets.Mapped(mapping);
  }

  private Optional<Job> source(YMap m, String name) {
    var serveMap = m.requiredMap("serve");
    var serve = serveMap.flatMap(transports::serve);
    if (serveMap.isPresent() && serve.isPresent() && ZreplNames.jobProblem(name).isEmpty()) {
      // each client keeps a cursor and step holds named <job>_C_<client>; a CIDR client's '*'
      // stands for its address (checked as the transport checks it; an IPv6 address that makes
      // the name too long is refused at that client's first call)
      for (var client : clients(serve.get())) {
        ZreplNames.clientJobProblem(name, client.replace("*", "0"))
            .ifPresent(serveMap.get().self()::error);
      }
    }
    var filesystems = m.required("filesystems").flatMap(DatasetParser::filter);
    var send = send(m);
    var snapshotting = m.requiredMap("snapshotting").flatMap(SnapshottingParser::snapshotting);
    if (serve.isEmpty() || filesystems.isEmpty() || snapshotting.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(
        new Job.Source(name, serve.get(), filesystems.get(), send, snapshotting.get()));
  }

  private Optional<Job> snap(YMap m, String name) {
    var filesystems = m.required("filesystems").flatMap(DatasetParser::filter);
    var snapshotting = m.requiredMap("snapshotting").flatMap(SnapshottingParser::snapshotting);
    Optional<List<PruneRule>> keep = m.requiredMap("pruning").flatMap(PruningParser::keep);
    if (filesystems.isEmpty() || snapshotting.isEmpty() || keep.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(new Job.Snap(name, filesystems.get(), snapshotting.get(), keep.get()));
  }

  // ---------------------------------------------------------------------------------------------
  // send / recv / replication / conflict_resolution

  private static Job.Send send(YMap job) {
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
    var backup = m.unsupportedTrue("backup_properties");
    var saved = m.unsupportedTrue("saved");
    var bw = bandwidth(m);
    m.finish();
    return new Job.Send(options, backup, saved, bw);
  }

  /**
   * {@code bandwidth_limit:} as zrepl reads it: {@code max} a rate in bytes a second (a data size
   * such as {@code 23.5 MiB}; omitted or zrepl's default {@code -1 B}: no limit), {@code
   * bucket_capacity} the token bucket's size (default 128 KiB). A limit of zero (zrepl cannot run
   * with it: its rate limiter panics), less than one byte, or any other negative value (zrepl takes
   * every negative as "no limit", which a typo such as {@code -10 MiB} should not silently mean) is
   * refused, as is a capacity under one byte. Without a limit the capacity is checked but has
   * nothing to act on, as in zrepl.
   */
  private static Job.BandwidthLimit bandwidth(YMap parent) {
    var o = parent.map("bandwidth_limit");
    if (o.isEmpty()) {
      return Job.BandwidthLimit.NONE;
    }
    var m = o.get();
    long maxBytes =
        m.get("max")
            .flatMap(v -> v.parse(JobParser::rate))
            .orElse(Job.BandwidthLimit.NONE.maxBytesPerSecond());
    long capacity =
        m.get("bucket_capacity")
            .flatMap(v -> v.parse(JobParser::bucketCapacity))
            .orElse(Job.BandwidthLimit.NONE.bucketCapacity());
    m.finish();
    return new Job.BandwidthLimit(maxBytes, capacity);
  }

  /** {@code bandwidth_limit.max}: bytes a second, or -1 for no limit. */
  private static long rate(String s) {
    double b = DataSizes.bytes(s);
    if (b == -1) {
      return -1;
    }
    if (b < 0) {
      throw new IllegalArgumentException(
          "negative limit '"
              + s
              + "': for no limit omit max (or write -1 B, zrepl's default); any other negative"
              + " value is refused");
    }
    if (b == 0) {
      throw new IllegalArgumentException(
          "a limit of zero ('"
              + s
              + "') would stop every transfer: for no limit omit max (or write -1 B)");
    }
    if (b < 1) {
      throw new IllegalArgumentException(
          "limit '" + s + "' is less than one byte a second: the least is 1 B");
    }
    return (long) b;
  }

  /** {@code bandwidth_limit.bucket_capacity}: bytes, at least one. */
  private static long bucketCapacity(String s) {
    double b = DataSizes.bytes(s);
    if (b < 1) {
      throw new IllegalArgumentException(
          "bucket capacity '" + s + "' must be at least 1 B (default 128 KiB)");
    }
    return (long) b;
  }

  private static Job.Recv recv(YMap job) {
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
          ph.get()
              .oneOf("encryption", List.of("unspecified", "off", "inherit"))
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

  private static Job.ReplicationOptions replication(YMap job) {
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
          protection.get().oneOf("initial", levels).map(JobParser::protection).orElse(initial);
      incremental =
          protection
              .get()
              .oneOf("incremental", levels)
              .map(JobParser::protection)
              .orElse(incremental);
      protection.get().finish();
    }
    int steps = d.steps();
    int sizeEstimates = d.sizeEstimates();
    var concurrency = m.map("concurrency");
    if (concurrency.isPresent()) {
      steps = concurrency.get().positiveInt("steps").orElse(steps);
      sizeEstimates = concurrency.get().positiveInt("size_estimates").orElse(sizeEstimates);
      concurrency.get().finish();
    }
    // our extension (zrepl has no -I): consecutive snapshots in one resumable zfs send -I step
    boolean intermediates = m.bool("zrepl4j_send_intermediates", d.sendIntermediates());
    // ours: rename the receiver's copy of a filesystem the sender renamed (found by guid)
    boolean follow = m.bool("zrepl4j_follow_renames", d.followRenames());
    m.finish();
    return new Job.ReplicationOptions(
        initial, incremental, steps, sizeEstimates, intermediates, follow);
  }

  private static Protection protection(String s) {
    return Protection.valueOf(s.toUpperCase(Locale.ROOT));
  }

  private static InitialPolicy initialReplication(YMap job) {
    var o = job.map("conflict_resolution");
    if (o.isEmpty()) {
      return InitialPolicy.MOST_RECENT;
    }
    var policy =
        o.get()
            .oneOf("initial_replication", List.of("most_recent", "all", "fail"))
            .map(s -> InitialPolicy.valueOf(s.toUpperCase(Locale.ROOT)))
            .orElse(InitialPolicy.MOST_RECENT);
    o.get().finish();
    return policy;
  }
}
