package dev.zrepl4j.bench;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.jspecify.annotations.Nullable;

/** The commands the benchmarks run: zfs, zpool and the tools they compare with. */
final class Shell {

  private Shell() {}

  /** Runs {@code argv}, returns its output (stdout and stderr); fails on a non-zero exit. */
  static String run(String... argv) throws IOException {
    var p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    var out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      if (p.waitFor() != 0) {
        throw new IOException(String.join(" ", argv) + " failed: " + out);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
      throw new InterruptedIOException("interrupted running " + argv[0]);
    }
    return out;
  }

  /** {@code zfs send SEND_ARGS | zfs recv -u target}, waiting for both. */
  static void sendRecv(List<String> sendArgs, String target) throws IOException {
    var argv = new ArrayList<>(List.of("zfs", "send"));
    argv.addAll(sendArgs);
    var send = new ProcessBuilder(argv).redirectError(ProcessBuilder.Redirect.INHERIT);
    var recv =
        new ProcessBuilder("zfs", "recv", "-u", target)
            .redirectOutput(ProcessBuilder.Redirect.INHERIT)
            .redirectError(ProcessBuilder.Redirect.INHERIT);
    pipeline(List.of(send, recv), String.join(" ", argv) + " | zfs recv -u " + target);
  }

  /** Runs {@code builders} as one pipeline and waits for all; fails if any exits non-zero. */
  static void pipeline(List<ProcessBuilder> builders, String what) throws IOException {
    var procs = ProcessBuilder.startPipeline(builders);
    try {
      for (var p : procs) {
        if (p.waitFor() != 0) {
          throw new IOException(what + " failed");
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      procs.forEach(Process::destroyForcibly);
      throw new InterruptedIOException("interrupted");
    }
  }

  /** Writes {@code bytes} of seeded random data to {@code file} and syncs it. */
  static void writeRandom(Path file, long bytes, long seed) throws IOException {
    var rnd = new SplittableRandom(seed);
    var buf = new byte[(int) Math.min(bytes, 1 << 20)];
    try (var out = new FileOutputStream(file.toFile())) {
      for (long done = 0; done < bytes; done += buf.length) {
        rnd.nextBytes(buf);
        out.write(buf, 0, (int) Math.min(buf.length, bytes - done));
      }
      out.getFD().sync();
    }
  }

  /** The path of {@code command} on PATH, or null. */
  static @Nullable Path which(String command) {
    for (var d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      var p = Path.of(d, command);
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    return null;
  }

  /** Destroys these pools if an earlier, interrupted run left them. */
  static void cleanPools(String... names) throws IOException {
    var have = run("zpool", "list", "-H", "-o", "name");
    for (var n : names) {
      if (have.lines().anyMatch(n::equals)) {
        run("zpool", "destroy", "-f", n);
      }
    }
  }

  static void sleep(long ms) throws InterruptedIOException {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted");
    }
  }
}
