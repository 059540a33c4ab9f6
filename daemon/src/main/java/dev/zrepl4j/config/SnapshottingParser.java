package dev.zrepl4j.config;

import dev.zrepl4j.config.Yaml.Value;
import dev.zrepl4j.config.Yaml.YMap;
import dev.zrepl4j.replication.filter.DatasetFilter;
import dev.zrepl4j.replication.snapshotting.CronSchedule;
import dev.zrepl4j.replication.snapshotting.SnapshotNameFormat;
import dev.zrepl4j.replication.snapshotting.Snapshotter;
import java.time.Duration;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reads a job's {@code snapshotting:} section (periodic, cron, manual) with its snapshot names and
 * {@code hooks:} (command, mysql-lock-tables, postgres-checkpoint). Stateless.
 */
final class SnapshottingParser {
  static final Duration DEFAULT_HOOK_TIMEOUT = Duration.ofSeconds(30);

  private SnapshottingParser() {}

  static Optional<Snapshotting> snapshotting(YMap m) {
    var type = m.requiredString("type");
    if (type.isEmpty()) {
      return Optional.empty();
    }
    int before = m.problems().count();
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
    return m.problems().count() > before ? Optional.empty() : out;
  }

  /** {@code prefix}, {@code timestamp_format} and {@code timestamp_location}. */
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

  private static List<Snapshotter.Hook> hooks(YMap m) {
    var out = new ArrayList<Snapshotter.Hook>();
    m.list("hooks")
        .ifPresent(
            l -> l.forEach(v -> v.map().flatMap(SnapshottingParser::hook).ifPresent(out::add)));
    return out;
  }

  private static Optional<Snapshotter.Hook> hook(YMap m) {
    var type = m.requiredString("type");
    if (type.isEmpty()) {
      return Optional.empty();
    }
    switch (type.get()) {
      case "command" -> {
        int before = m.problems().count();
        var path = m.required("path").flatMap(Value::absolutePath);
        var timeout = m.duration("timeout", DEFAULT_HOOK_TIMEOUT);
        var fatal = m.bool("err_is_fatal", false);
        var filesystems =
            m.get("filesystems").flatMap(DatasetParser::filter).orElse(DatasetFilter.all());
        m.finish();
        if (path.isEmpty() || m.problems().count() > before) {
          return Optional.empty();
        }
        return m.self()
            .attempt(() -> new Snapshotter.CommandHook(path.get(), timeout, fatal, filesystems));
      }
      case "mysql-lock-tables", "postgres-checkpoint" -> {
        // zrepl: dsn and filesystems required; err_is_fatal (default false) and timeout as above
        int before = m.problems().count();
        var dsnNode = m.required("dsn");
        var dsn = dsnNode.flatMap(Value::string);
        var timeout = m.duration("timeout", DEFAULT_HOOK_TIMEOUT);
        var fatal = m.bool("err_is_fatal", false);
        var filesystems = m.required("filesystems").flatMap(DatasetParser::filter);
        m.finish();
        if (dsn.isEmpty() || filesystems.isEmpty() || m.problems().count() > before) {
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
}
