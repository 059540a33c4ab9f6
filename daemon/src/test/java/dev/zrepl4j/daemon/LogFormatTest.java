package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Map;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.AlphaChars;
import net.jqwik.api.constraints.StringLength;
import org.junit.jupiter.api.Test;

class LogFormatTest {
  private static final Instant T = Instant.parse("2026-12-06T12:34:56.789Z");
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final TypeReference<Map<String, Object>> MAP = new TypeReference<>() {};

  private static LogEntry entry(LogEntry.Level level, String msg, Map<String, String> extra) {
    var f = new LinkedHashMap<String, String>();
    f.put(LogEntry.JOB, "prod_to_backup");
    f.put(LogEntry.SUBSYSTEM, "repl");
    f.putAll(extra);
    return new LogEntry(T, level, msg, f);
  }

  @Test
  void humanIsZreplsLayout() {
    var e = entry(LogEntry.Level.INFO, "sending step", Map.of("fs", "pool/a b"));
    assertThat(LogFormat.HUMAN.format(e, new LogFormat.Metadata(true, true, false)))
        .isEqualTo(
            "2026-12-06T12:34:56Z [INFO][prod_to_backup][repl]: sending step fs=\"pool/a b\"");
    assertThat(LogFormat.HUMAN.format(e, LogFormat.Metadata.NONE))
        .isEqualTo("[prod_to_backup][repl]: sending step fs=\"pool/a b\"");
  }

  @Test
  void humanColoursLevelAndPrefixesOnlyWhenAsked() {
    var e = entry(LogEntry.Level.ERROR, "boom", Map.of());
    assertThat(LogFormat.HUMAN.format(e, new LogFormat.Metadata(false, true, true)))
        .isEqualTo(
            "[\u001b[91mERRO\u001b[0m][\u001b[91mprod_to_backup\u001b[0m][\u001b[91mrepl\u001b[0m]: boom");
    assertThat(LogFormat.HUMAN.format(e, new LogFormat.Metadata(false, true, false)))
        .doesNotContain("\u001b");
  }

  @Test
  void logfmtPutsJobAndSubsystemFirstAndQuotesWhereNeeded() {
    var e = entry(LogEntry.Level.WARN, "step failed: \"x\" = y", Map.of("err", "line1\nline2"));
    var line = LogFormat.LOGFMT.format(e, LogFormat.Metadata.ALL_NO_COLOR);
    assertThat(line)
        .isEqualTo(
            "time=2026-12-06T12:34:56.789Z level=warn job=prod_to_backup subsystem=repl"
                + " msg=\"step failed: \\\"x\\\" = y\" err=\"line1\\nline2\"");
    assertThat(new ArrayList<>(Logfmt.parse(line).keySet()))
        .containsExactly("time", "level", "job", "subsystem", "msg", "err");
  }

  @Test
  void jsonHasSortedKeysLikeGosEncoder() throws Exception {
    var e = entry(LogEntry.Level.DEBUG, "a <b> & c", Map.of("err", "x"));
    var line = LogFormat.JSON.format(e, LogFormat.Metadata.NONE);
    assertThat(line)
        .isEqualTo(
            "{\"err\":\"x\",\"job\":\"prod_to_backup\",\"level\":\"debug\","
                + "\"msg\":\"a \\u003cb\\u003e \\u0026 c\",\"subsystem\":\"repl\","
                + "\"time\":\"2026-12-06T12:34:56Z\"}");
    var m = JSON.readValue(line, MAP);
    assertThat(m).containsEntry("msg", "a <b> & c").containsEntry("job", "prod_to_backup");
  }

  @Property(tries = 300)
  void logfmtRoundTripsAnyText(
      @ForAll String message,
      @ForAll String value,
      @ForAll @AlphaChars @StringLength(min = 1, max = 8) String key) {
    var k = "k" + key;
    var e = entry(LogEntry.Level.INFO, message, Map.of(k, value));
    var parsed = Logfmt.parse(LogFormat.LOGFMT.format(e, LogFormat.Metadata.ALL_NO_COLOR));
    assertThat(parsed).containsEntry("msg", message).containsEntry(k, value);
    assertThat(parsed).containsEntry("job", "prod_to_backup").containsEntry("subsystem", "repl");
  }

  @Property(tries = 300)
  void jsonRoundTripsAnyText(@ForAll String message, @ForAll String value) throws Exception {
    var e = entry(LogEntry.Level.INFO, message, Map.of("err", value));
    var m = JSON.readValue(LogFormat.JSON.format(e, LogFormat.Metadata.NONE), MAP);
    assertThat(m)
        .containsEntry("msg", message)
        .containsEntry("err", value)
        .containsEntry("level", "info")
        .containsEntry("subsystem", "repl");
  }

  @Test
  void subsystemsFollowZreplsNames() {
    assertThat(LogContext.subsystem("dev.zrepl4j.replication.Replication")).isEqualTo("repl");
    assertThat(LogContext.subsystem("dev.zrepl4j.replication.Sender")).isEqualTo("endpoint");
    assertThat(LogContext.subsystem("dev.zrepl4j.replication.pruning.Pruner")).isEqualTo("pruning");
    assertThat(LogContext.subsystem("dev.zrepl4j.rpc.transport.Tls")).isEqualTo("transport");
    assertThat(LogContext.subsystem("dev.zrepl4j.rpc.RpcServer")).isEqualTo("rpc");
    assertThat(LogContext.subsystem("dev.zrepl4j.daemon.JobRunner")).isEmpty();
  }
}
