package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The contract of the guest wrappers ({@code scripts/zfs-guest.sh env}) that every other guest test
 * relies on: bytes pass unchanged, exit status and arguments arrive exactly, and killing a wrapper
 * does not leave its {@code zfs send} / {@code zfs recv} running in the guest.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class GuestWrapperIT {

  private static final String POOL = "gwrap";

  private static GuestZfs guest;

  @BeforeAll
  static void createPool() {
    guest = GuestZfs.fromEnvironment();
    guest.createPool(POOL);
  }

  @AfterAll
  static void destroyPool() {
    if (guest != null) {
      guest.destroyPoolIfExists(POOL);
    }
  }

  @Test
  void binaryStdinReachesStdoutUnchanged() {
    var data = new byte[3 << 20];
    new Random(42).nextBytes(data);
    // every byte value, and ssh's escape sequence after a newline
    for (int i = 0; i < 256; i++) {
      data[i] = (byte) i;
    }
    var escape = "\n~.\n~?\r\n~C".getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(escape, 0, data, 256, escape.length);

    var result = guest.execWithInput(data, "cat");

    assertThat(result.status()).isZero();
    assertThat(result.stdout()).isEqualTo(data);
  }

  @Test
  void exitStatusIsTheCommands() {
    assertThat(guest.exec("sh", "-c", "exit 42").status()).isEqualTo(42);
    assertThat(guest.exec("true").status()).isZero();
    var missing = guest.zfs("list", POOL + "/does-not-exist");
    assertThat(missing.status()).isEqualTo(1);
    assertThat(missing.stderr()).contains("dataset does not exist");
    assertThat(missing.stdout()).isEmpty();
  }

  @Test
  void stderrIsSeparateFromStdout() {
    var result = guest.exec("sh", "-c", "echo out; echo err >&2; echo out2");
    assertThat(result.out()).isEqualTo("out\nout2\n");
    assertThat(result.stderr()).isEqualTo("err\n");
  }

  @Test
  void argumentsArriveExactly() {
    var args =
        List.of(
            "a b",
            "  two  spaces ",
            "it's",
            "\"quoted\"",
            "$HOME",
            "`id`",
            "$(id)",
            "",
            "x;y|z&",
            "*",
            "tab\there",
            "new\nline",
            "ünïcødé ✓",
            "back\\slash",
            "-n");
    var argv = new ArrayList<String>(List.of("printf", "[%s]\\n"));
    argv.addAll(args);

    var result = guest.exec(argv.toArray(String[]::new));

    var expected = new StringBuilder();
    args.forEach(a -> expected.append('[').append(a).append("]\n"));
    assertThat(result.out()).isEqualTo(expected.toString());
  }

  @Test
  void datasetNamesWithSpacesRoundTrip() {
    var name = POOL + "/with  two spaces"; // (ZFS itself rejects non-ASCII names)
    guest.zfs("create", name).ok();
    try {
      assertThat(guest.zfs("list", "-H", "-o", "name", "-r", POOL).ok().lines()).contains(name);
      assertThat(guest.zfs("get", "-H", "-o", "value", "name", name).ok()).isEqualTo(name + "\n");
    } finally {
      guest.zfs("destroy", name).ok();
    }
  }

  @Test
  void killedSendDoesNotLingerInTheGuest() throws Exception {
    var fs = POOL + "/killsend";
    guest.zfs("create", fs).ok();
    guest.writeRandom("/" + fs + "/f", 24);
    guest.zfs("snapshot", fs + "@s").ok();

    for (boolean forcibly : new boolean[] {false, true}) {
      var process = new ProcessBuilder(command(guest.zfsArgv(), "send", fs + "@s")).start();
      InputStream out = process.getInputStream();
      assertThat(out.readNBytes(64 << 10)).hasSize(64 << 10); // the stream is flowing
      assertThat(guestProcesses("zfs send")).isNotEmpty();

      if (forcibly) {
        process.destroyForcibly();
      } else {
        process.destroy();
      }
      assertThat(process.waitFor(10, TimeUnit.SECONDS)).isTrue();
      out.close();
      awaitNoGuestProcess("zfs send", Duration.ofSeconds(20));
    }
  }

  @Test
  void killedReceiveDoesNotLingerAndKeepsNoFilesystem() throws Exception {
    var fs = POOL + "/killrecv";
    guest.zfs("create", fs).ok();
    guest.writeRandom("/" + fs + "/f", 4);
    guest.zfs("snapshot", fs + "@s").ok();
    var stream = guest.zfs("send", fs + "@s").stdout();

    var process =
        new ProcessBuilder(command(guest.zfsArgv(), "recv", "-u", POOL + "/killrecv-copy")).start();
    var stdin = process.getOutputStream();
    stdin.write(stream, 0, stream.length / 2);
    stdin.flush();
    awaitGuestProcess("zfs recv", Duration.ofSeconds(20));
    process.destroy();
    assertThat(process.waitFor(10, TimeUnit.SECONDS)).isTrue();
    try {
      stdin.close();
    } catch (IOException e) {
      // the pipe is broken: expected
    }

    awaitNoGuestProcess("zfs recv", Duration.ofSeconds(20));
    assertThat(guest.zfs("list", POOL + "/killrecv-copy").status()).isEqualTo(1);
  }

  private static List<String> command(List<String> prefix, String... args) {
    var argv = new ArrayList<>(prefix);
    argv.addAll(List.of(args));
    return argv;
  }

  /** Guest processes whose command line starts with {@code commandPrefix} (e.g. "zfs send"). */
  private static List<String> guestProcesses(String commandPrefix) {
    var ps = guest.exec("ps", "-eo", "pid=,args=").ok();
    return ps.lines()
        .map(String::strip)
        .filter(l -> l.substring(l.indexOf(' ') + 1).startsWith(commandPrefix))
        .toList();
  }

  private static void awaitNoGuestProcess(String commandPrefix, Duration limit)
      throws InterruptedException {
    long deadline = System.nanoTime() + limit.toNanos();
    while (!guestProcesses(commandPrefix).isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(200);
    }
    assertThat(guestProcesses(commandPrefix)).as("guest processes '%s'", commandPrefix).isEmpty();
  }

  private static void awaitGuestProcess(String commandPrefix, Duration limit)
      throws InterruptedException {
    long deadline = System.nanoTime() + limit.toNanos();
    while (guestProcesses(commandPrefix).isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    assertThat(guestProcesses(commandPrefix))
        .as("guest processes '%s'", commandPrefix)
        .isNotEmpty();
  }
}
