package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.zrepl4j.replication.Trees;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The live {@code zrepl4j status} in a real terminal (tmux, on a server of the test's own) during a
 * real push to sink on zfs-fuse, slowed by a throttled TCP proxy so it can be watched: the pane
 * shows the job, the filesystem, bytes and a bar, changes by itself, switches job and filters on
 * keys, quits on {@code q}; a 20x5 terminal still gets a sane view. Also {@code --mode dump|raw}
 * and the progress lines in the daemon's log during the same transfer.
 */
@Timeout(300)
class StatusViewIT extends TwoPoolsTest {
  static final long RATE = 2L << 20; // bytes per second through the proxy
  static final int BIG = 48 << 20; // ~24 s at RATE

  StatusViewIT() {
    super("sv");
  }

  @Test
  void liveViewDuringATransfer() throws Exception {
    Trees.write(src.mounted("data/a/b").resolve("big.bin"), 9, BIG);
    int port = freePort();
    var big = src.path("data/a/b").toString();
    try (var sink =
            DaemonProcess.start(
                dir,
                "sink",
                sinkConfig(
                    "{type: tcp, listen: \"127.0.0.1:%d\", clients: {\"127.0.0.1\": client1}}"
                        .formatted(port)),
                sock("sink"));
        var proxy = new ThrottledProxy(port, RATE);
        var push =
            DaemonProcess.start(
                dir,
                "push",
                global("push")
                    + "jobs:\n"
                    + """
                      - name: push
                        type: push
                        connect: {type: tcp, address: "127.0.0.1:%d"}
                        filesystems: {"%s<": true}
                        snapshotting: {type: periodic, prefix: zrepl_, interval: 1h}
                        pruning:
                          keep_sender: [{type: not_replicated}, {type: last_n, count: 2}]
                          keep_receiver: [{type: last_n, count: 3}]
                      - name: snapper
                        type: snap
                        filesystems: {"%s<": true}
                        snapshotting: {type: manual}
                        pruning: {keep: []}
                    """
                        .formatted(proxy.port(), src.path("data"), src.path("other")),
                sock("push"));
        var tmux = new Tmux(dir)) {
      push.await(
          "push",
          Duration.ofSeconds(60),
          s -> s.current().stream().anyMatch(f -> f.filesystem().equals(big) && f.bytes() > 0));

      // --mode dump and raw while it runs
      var dump = push.cli("status", "--mode", "dump");
      assertThat(dump).contains("push (push): replicating").contains("* " + big);
      assertThat(dump).contains("(no size estimate)"); // zfs-fuse has no zfs send -nvP
      var raw = new ObjectMapper().readTree(push.cli("status", "--mode", "raw"));
      com.fasterxml.jackson.databind.JsonNode current = null;
      // the control socket's own JSON, keys as zrepl's Go structs spell them
      for (var j : raw.path("Jobs")) {
        for (var f : j.path("Current")) {
          if (j.path("Name").asText().equals("push") && f.path("Filesystem").asText().equals(big)) {
            current = f;
          }
        }
      }
      assertThat(current).as(raw.toPrettyString()).isNotNull();
      assertThat(current.path("Bytes").asLong()).isPositive();
      assertThat(current.path("ExpectedBytes").asLong()).isEqualTo(-1);
      assertThat(current.path("StepStarted").asText()).endsWith("Z");
      // the steps done before leave the status at once
      assertThat(raw.path("Jobs").findValues("Filesystem"))
          .extracting(com.fasterxml.jackson.databind.JsonNode::asText)
          .doesNotContain(src.path("data").toString());

      tmux.start(
          "main", 120, 40, DaemonProcess.command("status", "--config", push.config.toString()));
      var bar = Pattern.compile("\\[ *<=> *\\]");
      var first =
          tmux.await(
              "main",
              p ->
                  p.contains("[push]")
                      && p.contains("push (push): replicating")
                      && p.contains("* " + big)
                      && p.contains("MiB")
                      && bar.matcher(p).find());
      var bytes = progressOf(first, bar);
      var second = tmux.await("main", p -> !progressOf(p, bar).equals(bytes));
      assertThat(second).contains("* " + big);
      // what it looks like, for the README (target/status-view.txt)
      Files.writeString(Path.of("target/status-view.txt"), second.stripTrailing() + "\n");

      tmux.keys("main", "Tab");
      tmux.await("main", p -> p.contains("[snapper]") && p.contains("snapper (snap)"));
      tmux.keys("main", "Left");
      tmux.await("main", p -> p.contains("[push]") && p.contains("* " + big));

      tmux.keys("main", "/");
      tmux.type("main", "zzz");
      tmux.keys("main", "Enter");
      var filtered =
          tmux.await("main", p -> p.contains("filter: zzz") && !p.contains("filter: zzz_"));
      assertThat(filtered).doesNotContain("* " + big);
      tmux.keys("main", "/");
      tmux.keys("main", "Escape");
      tmux.await("main", p -> !p.contains("filter:") && p.contains("* " + big));

      // a terminal far too small: cut lines, no crash, q still quits
      tmux.start(
          "tiny", 20, 5, DaemonProcess.command("status", "--config", push.config.toString()));
      var tiny = tmux.await("tiny", p -> p.startsWith("zrepl4j status"));
      assertThat(tiny.lines()).hasSizeLessThanOrEqualTo(5).allMatch(l -> l.length() <= 20);
      tmux.keys("tiny", "q");
      assertThat(tmux.await("tiny", p -> p.contains("exited 0"))).doesNotContain("Exception");

      tmux.keys("main", "q");
      var after = tmux.await("main", p -> p.contains("exited 0"));
      assertThat(after).doesNotContain("Exception");

      // the log told the long step's progress at info, every 10 s
      var s = push.await("push", Duration.ofSeconds(120), j -> j.runs() >= 1);
      assertThat(s.lastRun().problems()).as(push.logText()).isEmpty();
      var progressLine =
          Pattern.compile(
              "job push: " + Pattern.quote(big) + ": full [^:]+: [0-9.]+ MiB, [0-9.]+ [KM]iB/s");
      assertThat(progressLine.matcher(push.logText()).find()).as(push.logText()).isTrue();
      assertThat(sink.job("sink").state()).isIn("waiting", "idle", "serving");
    }
  }

  /** The bytes and rate shown after the bar (what changes as the transfer goes). */
  static String progressOf(String pane, Pattern bar) {
    return pane.lines()
        .filter(l -> bar.matcher(l).find())
        .map(l -> l.substring(l.indexOf(']') + 1).strip())
        .collect(Collectors.joining("|"));
  }

  /** A tmux server of the test's own (its own socket and config), killed on close. */
  static final class Tmux implements AutoCloseable {
    private final String socket = "zrepl4j-it-" + ProcessHandle.current().pid();
    private final Path conf;

    Tmux(Path dir) throws IOException {
      conf = dir.resolve("tmux.conf");
      Files.writeString(conf, "set -g default-terminal screen\nset -g history-limit 100\n");
    }

    /** A detached session of {@code width}x{@code height} running {@code command}, then a note. */
    void start(String session, int width, int height, List<String> command) throws IOException {
      var quoted = command.stream().map(Tmux::quote).collect(Collectors.joining(" "));
      run(
          "new-session",
          "-d",
          "-s",
          session,
          "-x",
          Integer.toString(width),
          "-y",
          Integer.toString(height),
          "export LANG=C.UTF-8; " + quoted + "; echo \"exited $?\"; sleep 120");
    }

    void keys(String session, String... keys) throws IOException {
      var l = new ArrayList<>(List.of("send-keys", "-t", session));
      l.addAll(List.of(keys));
      run(l.toArray(String[]::new));
    }

    /** Types {@code text} literally. */
    void type(String session, String text) throws IOException {
      run("send-keys", "-t", session, "-l", text);
    }

    String capture(String session) throws IOException {
      return run("capture-pane", "-p", "-t", session);
    }

    /** Captures until {@code condition} holds (1 min at most); returns that capture. */
    String await(String session, Predicate<String> condition) throws IOException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      String p = capture(session);
      while (!condition.test(p)) {
        if (System.nanoTime() > deadline) {
          fail("the pane of " + session + " did not get there; last capture:\n" + p);
        }
        try {
          Thread.sleep(200);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new AssertionError(e);
        }
        p = capture(session);
      }
      return p;
    }

    private String run(String... args) throws IOException {
      var l = new ArrayList<>(List.of("tmux", "-u", "-L", socket, "-f", conf.toString()));
      l.addAll(List.of(args));
      var p = new ProcessBuilder(l).redirectErrorStream(true).start();
      var out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      try {
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          fail("tmux " + List.of(args) + " hangs");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException();
      }
      if (p.exitValue() != 0) {
        fail("tmux " + List.of(args) + " exited " + p.exitValue() + ": " + out);
      }
      return out;
    }

    static String quote(String s) {
      return "'" + s.replace("'", "'\\''") + "'";
    }

    @Override
    public void close() throws IOException {
      var p =
          new ProcessBuilder("tmux", "-L", socket, "kill-server").redirectErrorStream(true).start();
      try {
        p.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
