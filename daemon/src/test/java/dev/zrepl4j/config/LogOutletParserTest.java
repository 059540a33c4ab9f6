package dev.zrepl4j.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.zrepl4j.config.DaemonConfig.LogOutlet;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class LogOutletParserTest {
  private static List<LogOutlet> outlets(String logging) {
    return ConfigParser.parse("global:\n  logging:\n" + logging, Path.of("/etc/zrepl/zrepl.yml"))
        .global()
        .logging();
  }

  private static String problems(String logging) {
    return catchThrowableOfType(ConfigException.class, () -> outlets(logging)).getMessage();
  }

  @Test
  void readsEveryKeyOfTheThreeOutlets() {
    var o =
        outlets(
            """
                - {type: stdout, level: info, format: json, time: false, color: false}
                - {type: syslog, level: warn, format: logfmt, facility: daemon, retry_interval: 3s}
                - type: tcp
                  level: debug
                  format: human
                  address: "logs.example:10202"
                  net: tcp6
                  retry_interval: 1m
                  tls: {ca: /etc/zrepl/ca.crt, cert: /etc/zrepl/me.crt, key: /etc/zrepl/me.key}
            """);
    assertThat(o)
        .containsExactly(
            new LogOutlet.Stdout("info", "json", false, false),
            new LogOutlet.Syslog("warn", "logfmt", "daemon", Duration.ofSeconds(3)),
            new LogOutlet.Tcp(
                "debug",
                "human",
                "tcp6",
                "logs.example",
                10202,
                Duration.ofMinutes(1),
                new DaemonConfig.OutletTls(
                    Path.of("/etc/zrepl/ca.crt"),
                    Path.of("/etc/zrepl/me.crt"),
                    Path.of("/etc/zrepl/me.key"))));
  }

  @Test
  void defaultsAreZrepls() {
    var o =
        outlets(
            """
                - {type: syslog}
                - {type: tcp, address: "127.0.0.1:514"}
            """);
    assertThat(o)
        .containsExactly(
            new LogOutlet.Syslog("warn", "human", "local0", Duration.ofSeconds(10)),
            new LogOutlet.Tcp(
                "warn", "human", "tcp", "127.0.0.1", 514, Duration.ofSeconds(10), null));
    assertThat(outlets("    []\n")).containsExactly(LogOutlet.defaultStdout());
  }

  @Test
  void refusesWhatZreplRefusesAndWhatIsNotSupportedYet() {
    var p =
        problems(
            """
                - {type: stdout, hide_fields: [span]}
                - {type: stdout}
                - {type: syslog, facility: local9, retry_interval: 0s}
                - {type: syslog}
                - {type: tcp, address: "nohost", net: udp, tls: {cert: a.crt, key: a.key}}
                - {type: file, filename: /var/log/zrepl.log}
            """);
    assertThat(p)
        .contains("global.logging[0].hide_fields: not supported yet (hide_fields)")
        .contains("global.logging[1]: can only define one 'stdout' outlet")
        .contains("global.logging[2].facility: invalid value 'local9'")
        .contains("global.logging[2].retry_interval:")
        .contains("global.logging[3]: can only define one 'syslog' outlet")
        .contains("global.logging[4].address: invalid address 'nohost'")
        .contains("global.logging[4].net: invalid value 'udp' (expected tcp, tcp4, tcp6)")
        .contains("global.logging[4].tls.ca: required key is missing")
        .contains("global.logging[5].type: not supported yet (the file outlet of zrepl 0.8)");
  }
}
