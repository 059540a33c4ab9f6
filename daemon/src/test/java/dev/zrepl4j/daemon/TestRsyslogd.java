package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real rsyslogd (Debian package rsyslog) started by a test in the foreground, with its own
 * config, its own datagram socket (imuxsock) and its output file in {@code dir}; the system's
 * syslog is neither used nor touched. Each received message becomes one line {@code
 * FACILITY.SEVERITY PROGRAMNAME MESSAGE} of {@link #output()}.
 */
final class TestRsyslogd implements AutoCloseable {
  static final Path RSYSLOGD = Path.of("/usr/sbin/rsyslogd");
  private static final String PROBE = "zrepl4j-probe";

  final Path socket;
  final Path output;
  private final Process process;
  private final Path log;

  private TestRsyslogd(Path socket, Path output, Process process, Path log) {
    this.socket = socket;
    this.output = output;
    this.process = process;
    this.log = log;
  }

  static TestRsyslogd start(Path dir) throws IOException, InterruptedException {
    if (!Files.isExecutable(RSYSLOGD)) {
      fail(RSYSLOGD + " is missing: install the Debian package rsyslog (scripts/test.sh does)");
    }
    var socket = dir.resolve("log.sock");
    var output = dir.resolve("messages");
    var conf = dir.resolve("rsyslog.conf");
    Files.writeString(
        conf,
        """
        global(workDirectory="%s")
        module(load="imuxsock" SysSock.Use="off")
        input(type="imuxsock" Socket="%s" RateLimit.Interval="0" CreatePath="on")
        template(name="line" type="string"
                 string="%%syslogfacility-text%%.%%syslogseverity-text%% %%programname%% %%msg%%\\n")
        *.* action(type="omfile" file="%s" template="line" flushOnTXEnd="on" asyncWriting="off")
        """
            .formatted(dir, socket, output));
    var log = dir.resolve("rsyslogd.log");
    var p =
        new ProcessBuilder(
                RSYSLOGD.toString(),
                "-n",
                "-f",
                conf.toString(),
                "-i",
                dir.resolve("pid").toString())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    var r = new TestRsyslogd(socket, output, p, log);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!Files.exists(socket)) {
      if (!p.isAlive() || System.nanoTime() > deadline) {
        r.close();
        fail("rsyslogd did not create " + socket + ":\n" + Files.readString(log));
      }
      Thread.sleep(20);
    }
    r.awaitReceiving(deadline);
    return r;
  }

  /**
   * Waits until a probe message sent to the socket reaches the output: rsyslogd creates its socket
   * file before it reads from it (a datagram sent in between is refused), so the file alone does
   * not say that it is up.
   */
  private void awaitReceiving(long deadline) throws IOException, InterruptedException {
    var probe = new SyslogSink(List.of(socket), "user", PROBE, ZoneOffset.UTC);
    try {
      while (!rawOutput().stream().anyMatch(l -> l.split(" ", 3)[1].equals(PROBE))) {
        if (!process.isAlive() || System.nanoTime() > deadline) {
          close();
          fail("rsyslogd did not receive on " + socket + ":\n" + log());
        }
        try {
          if (!probe.isOpen()) {
            probe.open();
          }
          probe.write(LogEntry.Level.INFO, "ready?");
        } catch (IOException e) {
          probe.close();
        }
        Thread.sleep(50);
      }
    } finally {
      probe.close();
    }
  }

  /** The messages received, without the readiness probes. */
  List<String> output() throws IOException {
    return rawOutput().stream().filter(l -> !l.split(" ", 3)[1].equals(PROBE)).toList();
  }

  private List<String> rawOutput() throws IOException {
    return Files.exists(output) ? Files.readAllLines(output, StandardCharsets.UTF_8) : List.of();
  }

  String log() throws IOException {
    return Files.readString(log);
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(5, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor();
    }
  }
}
