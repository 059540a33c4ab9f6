package dev.zrepl4j.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializer;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import dev.zrepl4j.config.DaemonConfig;
import dev.zrepl4j.replication.filter.DatasetFilter;
import dev.zrepl4j.replication.filter.DatasetMapping;
import dev.zrepl4j.zfs.DatasetPath;
import java.nio.file.Path;
import java.util.regex.Pattern;
import org.snakeyaml.engine.v2.api.Dump;
import org.snakeyaml.engine.v2.api.DumpSettings;
import org.snakeyaml.engine.v2.common.FlowStyle;

/**
 * {@code configcheck --format}: the parsed config (every default filled in) as JSON, YAML or one
 * object per line. Keys are the parsed records' component names, not the YAML keys of the file: it
 * shows what the daemon understood, as zrepl's {@code --format} shows its Go structs.
 */
final class ConfigDump {
  private ConfigDump() {}

  static String dump(DaemonConfig c, ConfigcheckCommand.Format format)
      throws JsonProcessingException {
    return switch (format) {
      case pretty -> pretty(c);
      case json -> mapper().writeValueAsString(tree(c)) + "\n";
      case yaml -> {
        var plain = mapper().convertValue(tree(c), Object.class);
        var settings = DumpSettings.builder().setDefaultFlowStyle(FlowStyle.BLOCK).build();
        yield new Dump(settings).dumpToString(plain);
      }
    };
  }

  private static String pretty(DaemonConfig c) {
    var sb = new StringBuilder();
    sb.append("file: ").append(c.file()).append('\n');
    sb.append("global: ").append(c.global()).append('\n');
    for (var j : c.jobs()) {
      sb.append("job ").append(j.name()).append(" (").append(j.type()).append("): ");
      sb.append(j).append('\n');
    }
    return sb.toString();
  }

  private static ObjectNode tree(DaemonConfig c) {
    var m = mapper();
    ObjectNode root = m.valueToTree(c);
    var jobs = root.withArray("jobs");
    for (int i = 0; i < c.jobs().size(); i++) {
      // which kind of job: the records do not carry it as a component
      if (jobs.get(i) instanceof ObjectNode o) {
        var typed = m.createObjectNode().put("type", c.jobs().get(i).type());
        typed.setAll(o);
        jobs.set(i, typed);
      }
    }
    return root;
  }

  private static ObjectMapper mapper() {
    var strings = new SimpleModule("to-string");
    strings.addSerializer(Path.class, ToStringSerializer.instance);
    strings.addSerializer(DatasetPath.class, ToStringSerializer.instance);
    strings.addSerializer(Pattern.class, ToStringSerializer.instance);
    strings.addSerializer(DatasetFilter.class, ToStringSerializer.instance);
    strings.addSerializer(DatasetMapping.class, ToStringSerializer.instance);
    return new ObjectMapper()
        .registerModule(new JavaTimeModule())
        .registerModule(strings)
        .disable(SerializationFeature.WRITE_DURATIONS_AS_TIMESTAMPS)
        .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
        .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS)
        .enable(SerializationFeature.INDENT_OUTPUT);
  }
}
