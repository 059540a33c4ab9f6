package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.FileOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
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

  /** The real policy, without reading the system property. */
  private static LargePipes real() {
    return new LargePipes(LargePipes.PROC_FD, true);
  }

  @Test
  void isAvailableHereWithTheFullCapacity() {
    try (var p = LargePipe.open(LargePipes.PROC_FD)) {
      assertThat(p).isNotNull();
      // tests run as root (CI) or under the default pipe-max-size of 1 MiB
      assertThat(p.capacity()).isEqualTo(LargePipe.CAPACITY);
    }
  }

  @Test
  void carriesABulkStreamThroughAChildBothWaysAndEndsWithIt() throws Exception {
    var pipes = real();
    throughCat(9 << 20, 7, pipes, true);
    assertThat(pipes.refused()).isFalse();
  }

  /**
   * Writes {@code size} random bytes into {@code cat} with bulk pipes both ways (100 kB writes) and
   * checks that they come back, that cat ends, and whether the stdin was a large pipe (ours is then
   * a {@link FileOutputStream}; ProcessBuilder's is not).
   */
  private static void throughCat(int size, long seed, LargePipes pipes, boolean large)
      throws Exception {
    var data = new byte[size];
    new Random(seed).nextBytes(data);
    try (var p =
            ZfsProcess.start(List.of("cat"), ZfsProcess.Stdin.BULK, ZfsProcess.Stdout.BULK, pipes);
        var pool = Executors.newVirtualThreadPerTaskExecutor()) {
      assertThat(p.stdin() instanceof FileOutputStream)
          .as("stdin is a large pipe")
          .isEqualTo(large);
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
            List.of("sh", "-c", "exit 3"),
            ZfsProcess.Stdin.BULK,
            ZfsProcess.Stdout.DISCARD,
            real())) {
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
    // as an LSM refusing /proc/self/fd: reopening fails with NoSuchFileException
    var pipes = new LargePipes(Path.of("/nonexistent-fd-directory"), true);
    throughCat(3 << 20, 11, pipes, false);
    assertThat(pipes.refused()).isTrue();
    assertThat(pipes.open()).as("refused sticks").isNull();
    throughCat(1 << 20, 12, pipes, false);
    // a binary that cannot start is still reported as such
    assertThatThrownBy(
            () ->
                ZfsProcess.start(
                    List.of("/nonexistent/zfs"),
                    ZfsProcess.Stdin.BULK,
                    ZfsProcess.Stdout.DISCARD,
                    pipes))
        .isInstanceOf(ZfsException.class)
        .hasMessageContaining("cannot start");
    // the decision is the instance's: another one still gets large pipes
    throughCat(1 << 20, 13, real(), true);
  }

  @Test
  void aBinaryThatCannotStartFailsTheStartAndLeavesLargePipesOn() throws Exception {
    var pipes = real();
    assertThatThrownBy(
            () ->
                ZfsProcess.start(
                    List.of("/nonexistent/zfs"),
                    ZfsProcess.Stdin.BULK,
                    ZfsProcess.Stdout.BULK,
                    pipes))
        .isInstanceOf(ZfsException.class)
        .hasMessageContaining("cannot start");
    assertThat(pipes.refused()).isFalse();
    throughCat(1 << 20, 14, pipes, true);
  }

  @Test
  void runningOutOfDescriptorsFailsTheStartAndLeavesLargePipesOn() throws Throwable {
    var pipes = real();
    // everything the start below runs, loaded now (loading one of our classes needs a descriptor)
    try (var p =
        ZfsProcess.start(
            List.of("true"), ZfsProcess.Stdin.BULK, ZfsProcess.Stdout.DISCARD, pipes)) {
      p.checkSuccess();
    }
    assertThat(new ZfsException(List.of("x"), 1, "")).hasMessageContaining("x");
    var limits = new RLimits();
    // pipe2 takes the two lowest free descriptors; a limit just above them makes the reopening of
    // the child's end the first open to fail, with EMFILE
    int above;
    try (var probe = LargePipe.open(LargePipes.PROC_FD)) {
      assertThat(probe).isNotNull();
      above =
          1
              + Math.max(
                  Integer.parseInt(probe.readEnd().getFileName().toString()),
                  Integer.parseInt(probe.writeEnd().getFileName().toString()));
    }
    Throwable thrown = null;
    limits.lowerSoft(above);
    try {
      ZfsProcess.start(List.of("true"), ZfsProcess.Stdin.BULK, ZfsProcess.Stdout.DISCARD, pipes)
          .close();
    } catch (Throwable t) {
      thrown = t;
    } finally {
      limits.restore();
    }
    assertThat(thrown)
        .isInstanceOf(ZfsException.class)
        .hasMessageContaining("cannot start")
        .hasMessageContaining(LargePipes.PROC_FD + "/") // reopening the child's end, not pipe2
        .hasMessageContaining("Too many open files");
    assertThat(pipes.refused()).isFalse();
    throughCat(1 << 20, 15, pipes, true);
  }

  @Test
  void theSmallPipesPropertyIsReadWhenThePolicyIsMade() throws Exception {
    var before = LargePipes.standard();
    LargePipes small;
    System.setProperty(LargePipes.SMALL_PIPES_PROPERTY, "true");
    try {
      small = LargePipes.standard();
    } finally {
      System.clearProperty(LargePipes.SMALL_PIPES_PROPERTY);
    }
    assertThat(small.open()).isNull();
    throughCat(1 << 20, 16, small, false);
    assertThat(small.refused()).isFalse();
    throughCat(1 << 20, 17, before, true);
  }

  @Test
  void leavesNoDescriptorOpen() throws Exception {
    var pipes = real();
    long before = openDescriptors();
    for (int i = 0; i < 50; i++) {
      try (var p =
          ZfsProcess.start(List.of("true"), ZfsProcess.Stdin.BULK, ZfsProcess.Stdout.BULK, pipes)) {
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

  /** RLIMIT_NOFILE of this process, through getrlimit(2)/setrlimit(2). */
  private static final class RLimits {
    private static final int RLIMIT_NOFILE = 7; // Linux x86_64 and aarch64

    private final MethodHandle getrlimit;
    private final MethodHandle setrlimit;
    private final long soft;
    private final long hard;

    RLimits() throws Throwable {
      var linker = Linker.nativeLinker();
      var libc = linker.defaultLookup();
      var fd =
          FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS);
      getrlimit = linker.downcallHandle(libc.findOrThrow("getrlimit"), fd);
      setrlimit = linker.downcallHandle(libc.findOrThrow("setrlimit"), fd);
      try (var arena = Arena.ofConfined()) {
        var r = arena.allocate(ValueLayout.JAVA_LONG, 2);
        assertThat((int) getrlimit.invokeExact(RLIMIT_NOFILE, r)).isZero();
        soft = r.getAtIndex(ValueLayout.JAVA_LONG, 0);
        hard = r.getAtIndex(ValueLayout.JAVA_LONG, 1);
      }
      set(soft); // the downcall, linked before it matters
    }

    void lowerSoft(long limit) throws Throwable {
      set(limit);
    }

    void restore() throws Throwable {
      set(soft);
    }

    private void set(long limit) throws Throwable {
      try (var arena = Arena.ofConfined()) {
        MemorySegment r = arena.allocate(ValueLayout.JAVA_LONG, 2);
        r.setAtIndex(ValueLayout.JAVA_LONG, 0, limit);
        r.setAtIndex(ValueLayout.JAVA_LONG, 1, hard);
        int rc = (int) setrlimit.invokeExact(RLIMIT_NOFILE, r);
        if (rc != 0) {
          throw new IllegalStateException("setrlimit failed");
        }
      }
    }
  }
}
