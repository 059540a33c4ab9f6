package dev.zrepl4j.config;

import dev.zrepl4j.config.Yaml.Value;
import dev.zrepl4j.config.Yaml.YMap;
import dev.zrepl4j.replication.filter.DatasetFilter;
import dev.zrepl4j.replication.filter.DatasetMapping;
import dev.zrepl4j.rpc.transport.Identities;
import dev.zrepl4j.zfs.DatasetPath;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Reads the keys that name datasets: {@code filesystems:} filters, {@code root_fs}, and the seed's
 * {@code mapping:}. Each dataset name component is checked with {@link Identities#problem}, the one
 * component rule of configcheck, the transports and the receiver. Stateless.
 */
final class DatasetParser {
  private DatasetParser() {}

  /** A {@code filesystems:} map of patterns to booleans; each bad pattern is named. */
  static Optional<DatasetFilter> filter(Value v) {
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

  private static Optional<Optional<DatasetMapping>> mappingValue(Value v) {
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
  static Optional<DatasetMapping> mapping(YMap m, @Nullable DatasetPath pullRootFs) {
    var v = m.get("mapping");
    var mapping = v.flatMap(DatasetParser::mappingValue).flatMap(o -> o);
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

  /** {@code root_fs}: a non-empty dataset name, each component valid. */
  static Optional<DatasetPath> rootFs(Value v) {
    return v.string()
        .flatMap(
            s -> {
              if (s.isEmpty()) {
                v.error("must not be empty");
                return Optional.empty();
              }
              for (var c : s.split("/", -1)) {
                var bad = Identities.problem(c);
                if (bad.isPresent()) {
                  v.error("invalid dataset name '" + s + "': component '" + c + "' " + bad.get());
                  return Optional.empty();
                }
              }
              return v.attempt(() -> DatasetPath.parse(s));
            });
  }
}
