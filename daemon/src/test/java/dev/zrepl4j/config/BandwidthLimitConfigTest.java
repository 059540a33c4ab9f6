package dev.zrepl4j.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.zrepl4j.config.ConfigException.Problem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code send.bandwidth_limit} and {@code recv.bandwidth_limit}: zrepl's sample parses to zrepl's
 * values (its {@code build_jobs_test.go} checks the same numbers), good sizes give the bytes they
 * say, and every bad value is refused with its file, line, key and why.
 */
class BandwidthLimitConfigTest {
  @TempDir Path dir;

  @Test
  void zreplsSampleParsesToZreplsValues() {
    var c = ConfigParser.parse(ConfigFiles.copy(dir, "zrepl-samples/bandwidth_limit.yml"), true);
    var limitedSink = (Job.Sink) c.job("limited_sink").orElseThrow();
    assertThat(limitedSink.recv().bandwidth()).isEqualTo(new Job.BandwidthLimit(12345, 1 << 17));
    var limitedPush = (Job.Push) c.job("limited_push").orElseThrow();
    assertThat(limitedPush.send().bandwidth()).isEqualTo(new Job.BandwidthLimit(54321, 1024));
    assertThat(limitedPush.send().bandwidth().unlimited()).isFalse();
    var nolimit = (Job.Sink) c.job("nolimit_sink").orElseThrow();
    assertThat(nolimit.recv().bandwidth().unlimited()).isTrue();
    assertThat(nolimit.recv().bandwidth()).isEqualTo(Job.BandwidthLimit.NONE);
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "23.5 MiB   | 24641536",
        "100 Mb     | 12500000",
        "1 B        | 1",
        "12345 B    | 12345",
        "8 bit      | 1",
        "1.5 KiB    | 1536",
        "2 GiB      | 2147483648",
        "-1 B       | -1",
        "-8 bit     | -1",
      })
  void maxIsARateOfBytesASecondOrMinusOneForNone(String max, long bytes) throws IOException {
    var c = ConfigParser.parse(push("max: \"" + max + "\""), true);
    var bw = ((Job.Push) c.job("p").orElseThrow()).send().bandwidth();
    assertThat(bw.maxBytesPerSecond()).isEqualTo(bytes);
    assertThat(bw.unlimited()).isEqualTo(bytes == -1);
    assertThat(bw.bucketCapacity()).isEqualTo(128 * 1024);
  }

  @Test
  void bucketCapacityAloneLeavesNoLimitAndTheDefaultIs128KiB() throws IOException {
    var c = ConfigParser.parse(push("bucket_capacity: 1 MiB"), true);
    var bw = ((Job.Push) c.job("p").orElseThrow()).send().bandwidth();
    assertThat(bw).isEqualTo(new Job.BandwidthLimit(-1, 1 << 20));
    var sink = ConfigParser.parse(sink("max: 10 MiB"), true);
    assertThat(((Job.Sink) sink.job("s").orElseThrow()).recv().bandwidth())
        .isEqualTo(new Job.BandwidthLimit(10 << 20, 128 * 1024));
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "max: 0 B              | max             | a limit of zero ('0 B') would stop every transfer",
        "max: 0 MiB            | max             | a limit of zero ('0 MiB')",
        "max: -2 B             | max             | negative limit '-2 B': for no limit omit max",
        "max: -1 MiB           | max             | negative limit '-1 MiB'",
        "max: 4 bit            | max             | less than one byte a second",
        "max: 10 MiBps         | max             | invalid data size '10 MiBps'",
        "max: 10 XB            | max             | invalid data size '10 XB'",
        "max: 12345            | max             | invalid data size '12345'",
        "max: [1]              | max             | expected a string",
        "bucket_capacity: 0 B  | bucket_capacity | bucket capacity '0 B' must be at least 1 B",
        "bucket_capacity: -1 KiB | bucket_capacity | bucket capacity '-1 KiB' must be at least 1 B",
        "bucket_capacity: 4 bit | bucket_capacity | must be at least 1 B",
        "rate: 1 MiB           | rate            | unknown key",
      })
  void badValuesAreRefusedNamingFileLineAndKey(String line, String key, String message)
      throws IOException {
    var send = problems(push(line));
    assertOne(send, "push.yml", 10, "jobs[0].send.bandwidth_limit." + key, message);
    var recv = problems(sink(line));
    assertOne(recv, "sink.yml", 8, "jobs[0].recv.bandwidth_limit." + key, message);
  }

  @Test
  void theRecordRefusesWhatTheParserRefuses() {
    assertThatThrownBy(() -> new Job.BandwidthLimit(0, 1)).hasMessageContaining("must be positive");
    assertThatThrownBy(() -> new Job.BandwidthLimit(-2, 1)).hasMessageContaining("-2 B/s");
    assertThatThrownBy(() -> new Job.BandwidthLimit(1, 0)).hasMessageContaining("capacity 0");
  }

  private static void assertOne(
      List<Problem> problems, String file, int line, String path, String message) {
    assertThat(problems)
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.file().getFileName()).hasToString(file);
              assertThat(p.line()).isEqualTo(line);
              assertThat(p.path()).isEqualTo(path);
              assertThat(p.message()).contains(message);
              assertThat(p.toString()).contains(file + ":" + line + ":").contains(path + ": ");
            });
  }

  private static List<Problem> problems(Path file) {
    var e = catchThrowableOfType(ConfigException.class, () -> ConfigParser.parse(file, true));
    assertThat(e).as("parsing %s must fail", file).isNotNull();
    return e.problems();
  }

  /** A push job whose {@code send.bandwidth_limit} holds {@code line} (at line 10). */
  private Path push(String line) throws IOException {
    return Files.writeString(
        dir.resolve("push.yml"),
        """
        jobs:
        - name: p
          type: push
          connect: {type: local, listener_name: l, client_identity: me}
          filesystems: {"tank<": true}
          snapshotting: {type: manual}
          pruning: {keep_sender: [], keep_receiver: []}
          send:
            bandwidth_limit:
              %s
        """
            .formatted(line));
  }

  /** A sink job whose {@code recv.bandwidth_limit} holds {@code line} (at line 8). */
  private Path sink(String line) throws IOException {
    return Files.writeString(
        dir.resolve("sink.yml"),
        """
        jobs:
        - name: s
          type: sink
          root_fs: pool/s
          serve: {type: local, listener_name: l}
          recv:
            bandwidth_limit:
              %s
        """
            .formatted(line));
  }
}
