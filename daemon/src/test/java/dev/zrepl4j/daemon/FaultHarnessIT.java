package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fault harness ({@link FaultHarness}) on zfs-fuse as a test: CI's short pass injects {@code
 * faults.iterations} faults (20 by default: every kind twice) under a fixed seed (CI must not
 * gamble), each of which must be survived. {@code scripts/faults.sh} runs the long campaign through
 * this test with system properties: {@code faults.iterations}, {@code faults.seed} (CI's fixed seed
 * here; scripts/faults.sh draws one unless given, always printed), {@code faults.longStalls} (a
 * third of the stalls outlast the 60 s read timeout), {@code faults.kinds} (comma-separated kinds
 * only), {@code faults.minutes} (no fault started after that; the figures count what ran), {@code
 * faults.lanes} (harnesses side by side, see {@link #lanes}), {@code faults.runTimeout} (seconds a
 * run may take before it counts as hung: 180 here, 600 on the guest, at least 300 with long
 * stalls), {@code faults.replay} with {@code faults.kind} (one printed iteration alone). The
 * figures go to stdout and to {@code target/faults.txt}. {@link FaultHarnessGuestIT} is the same on
 * the OpenZFS guest.
 */
// a long campaign takes hours; every wait inside has its own deadline (FaultHarness.Settings)
@Timeout(value = 12, unit = TimeUnit.HOURS)
class FaultHarnessIT {
  /** The seed of CI's short pass: its first 33 faults were all survived in a by-hand run. */
  static final long CI_SEED = 20261207L;

  @TempDir Path dir;

  @Test
  void everyInjectedFaultIsSurvived() throws Exception {
    campaign(dir, FaultPools::fuse, 20, "", CI_SEED, 180, Path.of("target/faults.txt"));
  }

  /** Makes the pools of a campaign. */
  @FunctionalInterface
  interface Pools {
    FaultPools make() throws IOException;
  }

  /**
   * Runs a campaign (or one replayed iteration) as the system properties say, {@code iterations}
   * faults under {@code ciSeed} unless they say otherwise; asserts that every fault was survived
   * and (without {@code faults.minutes}) that all were injected; returns the outcomes. A run that
   * takes longer than {@code runTimeoutSeconds} counts as hung.
   */
  static List<FaultHarness.Outcome> campaign(
      Path dir,
      Pools pools,
      int iterations,
      String kinds,
      long ciSeed,
      long runTimeoutSeconds,
      Path report)
      throws Exception {
    int n = Integer.getInteger("faults.iterations", iterations);
    // parsed strictly: Long.getLong fell back to CI's seed for a seed it could not parse
    var seedText = System.getProperty("faults.seed");
    long seed = seedText == null ? ciSeed : Long.parseLong(seedText.strip());
    boolean longStalls = Boolean.getBoolean("faults.longStalls");
    var only = EnumSet.noneOf(FaultHarness.Kind.class);
    for (var k : System.getProperty("faults.kinds", kinds).split(",")) {
      if (!k.isBlank()) {
        only.add(FaultHarness.Kind.valueOf(k.strip()));
      }
    }
    var settings =
        new FaultHarness.Settings(
            seed,
            n,
            longStalls,
            4,
            Duration.ofSeconds(
                Long.getLong(
                    "faults.runTimeout", Math.max(runTimeoutSeconds, longStalls ? 300 : 0))),
            Set.copyOf(only),
            Duration.ofMinutes(Long.getLong("faults.minutes", 600)));
    var text = new ByteArrayOutputStream();
    try (var out =
        new PrintStream(
            new Tee(System.out, text, Files.newOutputStream(report)),
            true,
            StandardCharsets.UTF_8)) {
      out.println(
          "faults: seed " + seed + ", " + n + " faults" + (longStalls ? ", long stalls" : ""));
      List<FaultHarness.Outcome> outcomes;
      int lanes = Integer.getInteger("faults.lanes", 1);
      var replay = System.getProperty("faults.replay");
      if (replay != null && !replay.isBlank()) {
        try (var h = FaultHarness.start(dir, out, settings, pools.make())) {
          var kind = FaultHarness.Kind.valueOf(System.getProperty("faults.kind", "").strip());
          outcomes = List.of(h.replay(Long.parseLong(replay.strip()), kind));
        }
      } else if (lanes <= 1) {
        try (var h = FaultHarness.start(dir, out, settings, pools.make())) {
          outcomes = h.run();
        }
      } else {
        outcomes = lanes(dir, pools, lanes, settings, out);
      }
      var failed = outcomes.stream().filter(o -> !o.survived()).toList();
      assertThat(failed).as(text.toString(StandardCharsets.UTF_8)).isEmpty();
      if (!System.getProperties().containsKey("faults.minutes")) {
        assertThat(outcomes).as("faults injected").hasSize(replayOrN(n));
      }
      return outcomes;
    }
  }

  /**
   * The campaign in {@code lanes} harnesses side by side (each its own pools, daemons and proxy; a
   * fault's run spends most of its time waiting, so lanes multiply the faults per hour). Lane
   * {@code k} injects every {@code lanes}-th fault under seed {@code seed + k}; each prints its own
   * figures (and replay commands: {@code --seed} of the lane), then the totals follow.
   */
  private static List<FaultHarness.Outcome> lanes(
      Path dir, Pools pools, int lanes, FaultHarness.Settings settings, PrintStream out)
      throws Exception {
    long t0 = System.nanoTime();
    var results = new ArrayList<Future<List<FaultHarness.Outcome>>>();
    try (var executor = Executors.newFixedThreadPool(lanes)) {
      for (int k = 0; k < lanes; k++) {
        int share = settings.iterations() / lanes + (k < settings.iterations() % lanes ? 1 : 0);
        var lane =
            new FaultHarness.Settings(
                settings.seed() + k,
                share,
                settings.longStalls(),
                settings.maxRuns(),
                settings.runTimeout(),
                settings.only(),
                settings.budget());
        var laneDir = Files.createDirectories(dir.resolve("lane" + k));
        out.println("faults: lane " + k + ": seed " + lane.seed() + ", " + share + " faults");
        results.add(
            executor.submit(
                () -> {
                  try (var h = FaultHarness.start(laneDir, out, lane, pools.make())) {
                    return h.run();
                  }
                }));
      }
      var all = new ArrayList<FaultHarness.Outcome>();
      for (var r : results) {
        all.addAll(r.get());
      }
      long survived = all.stream().filter(FaultHarness.Outcome::survived).count();
      var perKind = new TreeMap<String, int[]>();
      for (var o : all) {
        var c = perKind.computeIfAbsent(o.kind().name(), x -> new int[2]);
        c[0]++;
        c[1] += o.survived() ? 1 : 0;
      }
      out.println("faults.total.lanes " + lanes);
      out.println("faults.total.injected " + all.size());
      out.println("faults.total.survived " + survived);
      out.println("faults.total.failed " + (all.size() - survived));
      perKind.forEach(
          (kind, c) ->
              out.printf(
                  Locale.ROOT,
                  "faults.total.kind.%s injected=%d survived=%d failed=%d%n",
                  kind,
                  c[0],
                  c[1],
                  c[0] - c[1]));
      double wall = (System.nanoTime() - t0) / 1e9;
      out.printf(Locale.ROOT, "faults.total.minutes %.1f%n", wall / 60);
      if (!all.isEmpty()) {
        out.printf(Locale.ROOT, "faults.total.wall.seconds.per.fault %.1f%n", wall / all.size());
      }
      return all;
    }
  }

  private static int replayOrN(int n) {
    var replay = System.getProperty("faults.replay");
    return replay != null && !replay.isBlank() ? 1 : n;
  }

  /** Writes to several streams; closes only those it does not share with others. */
  private static final class Tee extends OutputStream {
    private final PrintStream console;
    private final OutputStream copy;
    private final OutputStream file;

    Tee(PrintStream console, OutputStream copy, OutputStream file) {
      this.console = console;
      this.copy = copy;
      this.file = file;
    }

    @Override
    public void write(int b) throws IOException {
      console.write(b);
      copy.write(b);
      file.write(b);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      console.write(b, off, len);
      copy.write(b, off, len);
      file.write(b, off, len);
    }

    @Override
    public void flush() throws IOException {
      console.flush();
      file.flush();
    }

    @Override
    public void close() throws IOException {
      flush();
      file.close();
    }
  }
}
