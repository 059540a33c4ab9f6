package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link RealZfs#observedBy}: every command is reported once, with the configured binary, its verb
 * and its runtime, through real child processes (a script standing in for {@code zfs}).
 */
class CommandListenerTest {
  @TempDir Path dir;

  record Seen(String binary, String verb, Duration runtime) {}

  /** A {@code zfs} that sleeps {@code seconds}, prints nothing and exits 0. */
  Path slowZfs(String seconds) throws IOException {
    var script = dir.resolve("zfs");
    Files.writeString(script, "#!/bin/sh\nexec sleep " + seconds + "\n");
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
    return script;
  }

  @Test
  void reportsEachCommandOnceWithBinaryVerbAndRuntime() throws IOException {
    var zfs = slowZfs("0.3");
    var base =
        RealZfs.withCapabilities(
            List.of(zfs.toString()), List.of("zpool"), ZfsCapabilities.legacy("test"));
    var seen = new CopyOnWriteArrayList<Seen>();
    var observed = base.observedBy((b, v, t) -> seen.add(new Seen(b, v, t)));

    assertThat(observed.listFilesystems(List.of(), p -> true)).isEmpty();
    assertThat(seen).hasSize(1);
    assertThat(seen.getFirst().binary()).isEqualTo(zfs.toString());
    assertThat(seen.getFirst().verb()).isEqualTo("list");
    assertThat(seen.getFirst().runtime()).isGreaterThanOrEqualTo(Duration.ofMillis(250));

    base.listFilesystems(List.of(), p -> true);
    assertThat(seen).as("the unobserved instance reports nothing").hasSize(1);
    assertThat(base.invocations()).as("the count is shared").isEqualTo(2);
  }

  @Test
  void aKilledCommandIsReportedOnceAtClose() throws IOException {
    var zfs = slowZfs("30");
    var seen = new CopyOnWriteArrayList<Seen>();
    try (var p =
        ZfsProcess.start(
            List.of(zfs.toString()),
            List.of("send", "p/a@s"),
            ZfsProcess.Stdin.NULL,
            ZfsProcess.Stdout.PIPE,
            LargePipes.standard(),
            (b, v, t) -> seen.add(new Seen(b, v, t)))) {
      assertThat(seen).as("running").isEmpty();
      p.close();
      p.close();
    }
    assertThat(seen).singleElement().extracting(Seen::verb).isEqualTo("send");
    assertThat(seen.getFirst().runtime()).isLessThan(Duration.ofSeconds(30));
  }
}
