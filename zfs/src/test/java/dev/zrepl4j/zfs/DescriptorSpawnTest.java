package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Children started with a socket we hold as their stdout or stdin (the direct data path's spawn),
 * on Linux, with real processes.
 */
@Timeout(60)
class DescriptorSpawnTest {

  private final DescriptorSpawn spawn = Objects.requireNonNull(DescriptorSpawn.load());

  @Test
  void aChildWritesStraightIntoASocketAndItsStatusAndStderrComeBack() throws Exception {
    int[] s = spawn.socketPair();
    DescriptorSpawn.Child child;
    try {
      child =
          spawn.start(
              List.of("sh", "-c", "head -c 3000000 /dev/zero; echo 'cannot go on' >&2; exit 3"),
              -1,
              s[1]);
    } finally {
      spawn.closeQuietly(s[1]); // the child has its own: the end comes when it exits
    }
    try (child) {
      long total = 0;
      var buf = new byte[65536];
      int n;
      while ((n = spawn.read(s[0], buf, buf.length)) > 0) {
        for (int i = 0; i < n; i++) {
          assertThat(buf[i]).isZero();
        }
        total += n;
      }
      assertThat(total).isEqualTo(3_000_000);
      assertThat(child.waitFor()).isEqualTo(3);
      assertThat(child.stderrTail()).isEqualTo("cannot go on\n");
      assertThat(child.pid()).isPositive();
    } finally {
      spawn.closeQuietly(s[0]);
    }
  }

  @Test
  void aChildReadsStraightFromASocketToTheEnd() throws Exception {
    var data = new byte[5_000_000];
    new Random(11).nextBytes(data);
    int[] in = spawn.socketPair();
    int[] out = spawn.socketPair();
    DescriptorSpawn.Child child;
    try {
      // the child's stdin is one socket, its stdout another: it copies what we write
      child = spawn.start(List.of("cat"), in[1], out[1]);
    } finally {
      spawn.closeQuietly(in[1]);
      spawn.closeQuietly(out[1]);
    }
    try (child;
        var pool = Executors.newVirtualThreadPerTaskExecutor()) {
      Future<byte[]> copied =
          pool.submit(
              () -> {
                var got = new ByteArrayOutputStream();
                var buf = new byte[65536];
                int n;
                while ((n = spawn.read(out[0], buf, buf.length)) > 0) {
                  got.write(buf, 0, n);
                }
                return got.toByteArray();
              });
      spawn.write(in[0], data);
      spawn.closeQuietly(in[0]); // the end of the child's input
      assertThat(copied.get()).isEqualTo(data);
      assertThat(child.waitFor()).isZero();
    } finally {
      spawn.closeQuietly(out[0]);
    }
  }

  @Test
  void aChildHasOnlyItsThreeDescriptors() throws Exception {
    int[] s = spawn.socketPair();
    int[] other = spawn.pipe(); // must not reach the child (close-on-exec)
    DescriptorSpawn.Child child;
    // nor this one: the JDK opens files without close-on-exec
    try (var open = new java.io.FileInputStream("/dev/null")) {
      assertThat(open.getFD().valid()).isTrue();
      child = spawn.start(List.of("sh", "-c", "exec ls /proc/self/fd"), -1, s[1]);
    } finally {
      spawn.closeQuietly(s[1]);
    }
    try (child) {
      var text = readAll(s[0]);
      assertThat(child.waitFor()).isZero();
      // 0, 1 and 2, and the directory ls reads them from
      assertThat(text.strip().split("\\s+")).containsExactly("0", "1", "2", "3");
    } finally {
      spawn.closeQuietly(s[0]);
      spawn.closeQuietly(other[0]);
      spawn.closeQuietly(other[1]);
    }
  }

  @Test
  void aKilledChildReportsTheSignalAndAMissingProgramIsNamed() throws Exception {
    try (var child = spawn.start(List.of("sleep", "30"), -1, -1)) {
      assertThat(child.exited()).isFalse();
      child.kill();
      assertThat(child.waitFor()).isEqualTo(128 + 9);
      assertThat(child.exited()).isTrue();
      child.kill(); // reaped: does nothing
    }
    assertThatThrownBy(() -> spawn.start(List.of("/nonexistent/zrepl4j-no-such-program"), -1, -1))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("/nonexistent/zrepl4j-no-such-program")
        .hasMessageContaining("No such file");
  }

  @Test
  void aChildThatWritesIntoAClosedSocketEndsInsteadOfHanging() throws Exception {
    int[] s = spawn.socketPair();
    spawn.closeQuietly(s[0]); // nobody reads
    DescriptorSpawn.Child child;
    try {
      child = spawn.start(List.of("sh", "-c", "exec head -c 100000000 /dev/zero"), -1, s[1]);
    } finally {
      spawn.closeQuietly(s[1]);
    }
    try (child) {
      // SIGPIPE is the child's default (the JVM's handling of it is not inherited)
      assertThat(child.waitFor()).isEqualTo(128 + 13);
    }
  }

  private String readAll(int fd) throws IOException {
    var got = new ByteArrayOutputStream();
    var buf = new byte[4096];
    int n;
    while ((n = spawn.read(fd, buf, buf.length)) > 0) {
      got.write(buf, 0, n);
    }
    return got.toString(StandardCharsets.UTF_8);
  }
}
