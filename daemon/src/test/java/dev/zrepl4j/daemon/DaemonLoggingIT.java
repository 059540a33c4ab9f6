package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A real {@code zrepl4j daemon} process with three outlets: stdout in logfmt at info, a tcp outlet
 * in json at debug to a listener made here, and a tcp outlet to a port nobody listens on. It
 * replicates push to sink over {@code local} on zfs-fuse; every line carries its job and subsystem,
 * the dead outlet neither stops the daemon nor the run, and the shutdown lines reach the outlets.
 */
@Timeout(300)
class DaemonLoggingIT extends TwoPoolsTest {
  private static final TypeReference<Map<String, Object>> MAP = new TypeReference<>() {};

  DaemonLoggingIT() {
    super("l");
  }

  @Test
  void daemonLogsEachJobsLinesToEveryOutletAtItsLevel() throws Exception {
    int deadPort;
    try (var s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      deadPort = s.getLocalPort();
    }
    try (var server =
        new LogOutletsTest.LineServer(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()))) {
      var global =
          """
          global:
            logging:
              - {type: stdout, level: info, format: logfmt, time: false}
              - {type: tcp, level: debug, format: json, address: "127.0.0.1:%d"}
              - {type: tcp, level: info, format: logfmt, address: "127.0.0.1:%d", retry_interval: 1s}
            control:
              sockpath: %s
            serve:
              stdinserver:
                sockdir: %s
          """
              .formatted(server.port(), deadPort, sock("both"), dir.resolve("both-stdin"));
      var push =
          """
            - name: push
              type: push
              connect: {type: local, listener_name: backup, client_identity: here}
              filesystems: {"%s<": true}
              snapshotting: {type: periodic, prefix: zrepl_, interval: 1h}
              pruning:
                keep_sender: [{type: not_replicated}, {type: last_n, count: 2}]
                keep_receiver: [{type: last_n, count: 3}]
          """
              .formatted(src.path("data"));
      var d =
          DaemonProcess.start(
              dir,
              "both",
              global + "jobs:\n" + sinkJob("{type: local, listener_name: backup}") + push,
              sock("both"));
      try {
        var s = d.awaitRuns("push", 1);
        assertThat(s.lastRun().problems()).as(d.logText()).isEmpty();
      } finally {
        d.terminate();
      }
      assertReplicated("here");

      var json = new ObjectMapper();
      var tcp = new ArrayList<Map<String, Object>>();
      for (var l : server.lines) {
        tcp.add(json.readValue(l, MAP));
      }
      assertThat(tcp).extracting(m -> m.get("level")).contains("debug", "info");
      assertThat(tcp)
          .as("the push job's replication lines carry job and subsystem")
          .anyMatch(m -> "push".equals(m.get("job")) && "repl".equals(m.get("subsystem")));
      assertThat(tcp)
          .as("the sink job's own lines carry its name")
          .anyMatch(m -> "sink".equals(m.get("job")));
      assertThat(tcp)
          .as("the shutdown reaches the outlet before the daemon exits")
          .anyMatch(m -> "shutting down".equals(m.get("msg")));
      assertThat(tcp)
          .as("the dead outlet is reported once to the others")
          .filteredOn(m -> String.valueOf(m.get("msg")).startsWith("cannot write to this outlet"))
          .hasSize(1)
          .allMatch(m -> ("#2 tcp 127.0.0.1:" + deadPort).equals(m.get("outlet")));

      List<? extends Map<String, String>> stdout =
          d.logText().lines().filter(l -> l.startsWith("level=")).map(Logfmt::parse).toList();
      assertThat(stdout).isNotEmpty();
      assertThat(stdout).extracting(m -> m.get("level")).doesNotContain("debug");
      assertThat(stdout).allMatch(m -> !m.containsKey("time"));
      assertThat(stdout).anyMatch(m -> "push".equals(m.get("job")));
    }
  }
}
