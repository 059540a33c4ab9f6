package dev.zrepl4j.fuzz;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;

/**
 * The property every fuzz test checks, for one parser: on each input the parser returns a result
 * (checked by the test) or throws one of its documented error types with a non-empty message;
 * nothing else (no NullPointerException, IndexOutOfBounds, ClassCast, OutOfMemoryError,
 * StackOverflowError, ...), no hang (each input has a deadline) and no allocation beyond a bound
 * the test derives from the configured limits (measured on the thread that parses).
 *
 * <p>Counts the inputs tried and the failures, and prints them when closed: {@code
 * fuzz.<parser>.inputs N} and {@code fuzz.<parser>.failures N} (also written to {@code
 * target/fuzz/<parser>.txt} for scripts/fuzz.sh). Not thread-safe: one per fuzz test instance.
 */
public final class FuzzHarness implements AutoCloseable {
  /** The parse of one input; its result is checked inside (an AssertionError fails the input). */
  @FunctionalInterface
  public interface Parse {
    void run() throws Exception;
  }

  private record Outcome(@Nullable Throwable thrown, long allocated) {}

  /** Mutations of the corpus in CI's short pass, per parser (system property fuzz.mutations). */
  public static final int MUTATIONS = Integer.getInteger("fuzz.mutations", 3000);

  private static final Duration DEADLINE =
      Duration.ofMillis(Long.getLong("fuzz.deadlineMillis", 5000));

  private final String parser;
  private final List<Class<? extends Throwable>> typed;
  private ExecutorService worker = newWorker();
  private long inputs;
  private long failures;

  /**
   * @param parser the name printed in the counts
   * @param typed the error types the parser documents
   */
  @SafeVarargs
  public FuzzHarness(String parser, Class<? extends Throwable>... typed) {
    this.parser = parser;
    this.typed = List.of(typed);
  }

  private static ExecutorService newWorker() {
    return Executors.newSingleThreadExecutor(
        r -> {
          var t = new Thread(r, "fuzz-parse");
          t.setDaemon(true);
          return t;
        });
  }

  /**
   * Runs one input and checks the property.
   *
   * @param allocationBound most bytes the parse may allocate
   * @throws AssertionError if the property fails (Jazzer then saves the input)
   */
  public void check(long allocationBound, Parse parse) {
    inputs++;
    Outcome o = run(parse);
    if (o.allocated() > allocationBound) {
      // the first parse of a kind may load (and have Jazzer instrument) classes on this thread:
      // only a repeat of the same input measures the parse alone
      o = run(parse);
    }
    Throwable t = o.thrown();
    if (t != null) {
      if (typed.stream().noneMatch(c -> c.isInstance(t))) {
        throw fail("threw " + t + ", which is none of " + typed, t);
      }
      if (t.getMessage() == null || t.getMessage().isBlank()) {
        throw fail("threw " + t.getClass().getName() + " without a message", t);
      }
    }
    if (o.allocated() > allocationBound) {
      throw fail(
          "allocated " + o.allocated() + " bytes for one input, bound " + allocationBound, t);
    }
  }

  private Outcome run(Parse parse) {
    Future<Outcome> f =
        worker.submit(
            () -> {
              var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
              long before = mx.getCurrentThreadAllocatedBytes();
              Throwable thrown = null;
              try {
                parse.run();
              } catch (Throwable t) { // NOPMD: the property is about every throwable
                thrown = t;
              }
              return new Outcome(thrown, mx.getCurrentThreadAllocatedBytes() - before);
            });
    try {
      return f.get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      worker.shutdownNow();
      worker = newWorker();
      throw fail("no result within " + DEADLINE + " (a hang)", null);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException("fuzz worker failed", e);
    }
  }

  /** One fuzz test method, for {@link #mutations}. */
  @FunctionalInterface
  public interface Target {
    void accept(byte[] input) throws Exception;
  }

  private static final int[] INTERESTING = {
    0,
    1,
    -1,
    0x7F,
    0x80,
    0xFF,
    0x7FFF,
    0x8000,
    0xFFFF,
    4096,
    4097,
    0x400000,
    0x400001,
    0x7FFFFFFF,
    0x80000000
  };
  private static final byte[] BYTES = {
    0, 1, -1, 0x7F, -128, '\n', '\t', ' ', '-', '"', '{', ':', '@'
  };

  /**
   * CI's short pass: feeds {@code n} random mutations of the test's corpus (its Jazzer inputs
   * directory on the class path) to {@code target}: bits flipped, bytes and 32-bit words set to
   * edge values (lengths of 0, 4 KiB, 4 MiB, 2^31...), truncations, deletions, duplications and
   * splices of two inputs. Seeded (system property {@code fuzz.seed}), so a failure can be
   * replayed; the failing input is written to {@code target/fuzz/<parser>-failing-input}.
   */
  public void mutations(Class<?> test, String method, int n, Target target) throws Exception {
    var url = test.getResource(test.getSimpleName() + "Inputs/" + method);
    if (url == null) {
      throw new IllegalStateException("no corpus for " + test.getSimpleName() + "." + method);
    }
    var corpus = new ArrayList<byte[]>();
    try (var files = Files.list(Path.of(url.toURI()))) {
      for (var f : files.sorted().toList()) {
        corpus.add(Files.readAllBytes(f));
      }
    }
    long seed = Long.getLong("fuzz.seed", 1);
    var random = new Random(seed ^ parser.hashCode());
    for (int i = 0; i < n; i++) {
      byte[] input = corpus.get(random.nextInt(corpus.size()));
      int rounds = 1 + random.nextInt(4);
      for (int k = 0; k < rounds; k++) {
        input = mutate(input, corpus.get(random.nextInt(corpus.size())), random);
      }
      try {
        target.accept(input);
      } catch (AssertionError | Exception e) {
        Path dir = Path.of("target", "fuzz");
        Files.createDirectories(dir);
        Files.write(dir.resolve(parser + "-failing-input"), input);
        throw new AssertionError(
            "mutation " + i + " (fuzz.seed " + seed + ") failed; input in target/fuzz", e);
      }
    }
  }

  private static byte[] mutate(byte[] in, byte[] other, Random r) {
    if (in.length == 0) {
      return other.clone();
    }
    int at = r.nextInt(in.length);
    var out = in.clone();
    switch (r.nextInt(8)) {
      case 0 -> out[at] ^= (byte) (1 << r.nextInt(8));
      case 1 -> out[at] = BYTES[r.nextInt(BYTES.length)];
      case 2 -> out = Arrays.copyOf(in, at);
      case 3 -> {
        int len = r.nextInt(in.length - at + 1);
        out = new byte[in.length - len];
        System.arraycopy(in, 0, out, 0, at);
        System.arraycopy(in, at + len, out, at, in.length - at - len);
      }
      case 4 -> {
        int len = Math.min(r.nextInt(64) + 1, in.length - at);
        int to = r.nextInt(in.length + 1);
        out = new byte[in.length + len];
        System.arraycopy(in, 0, out, 0, to);
        System.arraycopy(in, at, out, to, len);
        System.arraycopy(in, to, out, to + len, in.length - to);
      }
      case 5 -> {
        int cut = other.length == 0 ? 0 : r.nextInt(other.length);
        out = new byte[at + other.length - cut];
        System.arraycopy(in, 0, out, 0, at);
        System.arraycopy(other, cut, out, at, other.length - cut);
      }
      case 6 -> {
        int v = INTERESTING[r.nextInt(INTERESTING.length)];
        boolean little = r.nextBoolean();
        for (int b = 0; b < 4 && at + b < out.length; b++) {
          out[at + b] = (byte) (little ? v >>> (8 * b) : v >>> (8 * (3 - b)));
        }
      }
      default -> {
        int len = r.nextInt(16) + 1;
        out = new byte[in.length + len];
        System.arraycopy(in, 0, out, 0, at);
        for (int b = 0; b < len; b++) {
          out[at + b] = (byte) r.nextInt(256);
        }
        System.arraycopy(in, at, out, at + len, in.length - at);
      }
    }
    return out;
  }

  private AssertionError fail(String message, @Nullable Throwable cause) {
    failures++;
    return new AssertionError("fuzz." + parser + ": " + message, cause);
  }

  @Override
  public void close() throws IOException {
    worker.shutdownNow();
    String counts =
        "fuzz." + parser + ".inputs " + inputs + "\nfuzz." + parser + ".failures " + failures;
    System.out.println(counts);
    Path dir = Path.of("target", "fuzz");
    Files.createDirectories(dir);
    Files.writeString(dir.resolve(parser + ".txt"), counts + "\n", StandardCharsets.UTF_8);
  }
}
