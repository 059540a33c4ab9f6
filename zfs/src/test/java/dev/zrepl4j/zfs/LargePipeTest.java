package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Large pipes between us and a child, on Linux (where the daemon runs). */
@Timeout(30)
class LargePipeTest {

  @Test
  void isAvailableHereWithTheFullCapacity() {
    try (var p = LargePipe.open()) {
      assertThat(p).isNotNull();
      // tests run as root (CI) or under the default pipe-max-size of 1 MiB
      assertThat(p.capacity()).isEqualTo(LargePipe.CAPACITY);
    }
  }

  @Test
  void carriesABulkStreamThroughAChildBothWaysAndEndsWithIt() throws Exception {
    throughCat(9 << 20, 7);
  }

  /**
   * Writes {@code size} random bytes into {@code cat} with bulk pipes both ways (100 kB writes) and
   * checks that they come back, and that cat ends.
   */
  private static void throughCat(int size, long seed) throws Exception {
    var data = new byte[size];
    new Random(seed).nextBytes(data);
    try (var p = ZfsProcess.start(List.of("cat"), ZfsProcess.Stdin.BULK, ZfsProcess.Stdout.BULK);
        var pool = Executors.newVirtualThreadPerTaskExecutor()) {
      var writer =
          pool.submit(
              () -> {
                try (var in = p.stdin()) {
                  for (int off = 0; off < data.length; off += 100_000) {
                    in.write(data, off, Math.min(100_000, data.length - off));
                  }
                }
                return null;
              });
      byte[] got = p.stdout().readAllBytes(); // EOF only when cat exits: no stray write end
      writer.get(20, TimeUnit.SECONDS);
      assertThat(Arrays.equals(got, data)).as("bytes through cat").isTrue();
      assertThat(p.waitFor()).isZero();
    }
  }

  @Test
  void aChildThatExitsEarlyFailsTheWriterInsteadOfBlockingIt() throws Exception {
    try (var p =
        ZfsProcess.start(
            List.of("sh", "-c", "exit 3"), ZfsProcess.Stdin.BULK, ZfsProcess.Stdout.DISCARD)) {
      assertThat(p.waitFor()).isEqualTo(3);
      var chunk = new byte[1 << 20];
      assertThatThrownBy(
              () -> {
                for (int i = 0; i < 8; i++) { // more than the pipe holds
                  p.stdin().write(chunk);
                }
              })
          .isInstanceOf(IOException.class);
    }
  }

  @Test
  void whereReopeningAPipeThroughProcIsRefusedTheDefaultPipesCarryTheStream() throws Exception {
    LargePipe.fdDirectory = "/nonexistent-fd-directory"; // as an LSM refusing /proc/self/fd
    try {
      throughCat(3 << 20, 11);
      assertThat(ZfsProcess.largePipesRefused).isTrue();
      // a binary that cannot start is still reported as such
      assertThatThrownBy(
              () ->
                  ZfsProcess.start(
                      List.of("/nonexistent/zfs"),
                      ZfsProcess.Stdin.BULK,
                      ZfsProcess.Stdout.DISCARD))
          .isInstanceOf(ZfsException.class)
          .hasMessageContaining("cannot start");
    } finally {
      LargePipe.fdDirectory = "/proc/self/fd";
      ZfsProcess.largePipesRefused = false;
    }
  }

  @Test
  void leavesNoDescriptorOpen() throws Exception {
    long before = openDescriptors();
    for (int i = 0; i < 50; i++) {
      try (var p =
          ZfsProcess.start(List.of("true"), ZfsProcess.Stdin.BULK, ZfsProcess.Stdout.BULK)) {
        p.checkSuccess();
      }
    }
    assertThat(openDescriptors()).isLessThanOrEqualTo(before + 2);
  }

  private static long openDescriptors() throws IOException {
    try (var s = Files.list(Path.of("/proc/self/fd"))) {
      return s.count();
    }
  }
}
