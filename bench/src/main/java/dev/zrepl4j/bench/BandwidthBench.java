package dev.zrepl4j.bench;

import dev.zrepl4j.replication.BandwidthLimiter;
import dev.zrepl4j.replication.Dialer;
import dev.zrepl4j.replication.Push;
import dev.zrepl4j.replication.Receiver;
import dev.zrepl4j.replication.ReceiverEndpoint;
import dev.zrepl4j.replication.ReceiverOptions;
import dev.zrepl4j.replication.Replication;
import dev.zrepl4j.replication.Sender;
import dev.zrepl4j.replication.SenderOptions;
import dev.zrepl4j.replication.Step;
import dev.zrepl4j.replication.filter.DatasetFilter;
import dev.zrepl4j.rpc.RpcClient;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.RealZfs;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * How closely {@code bandwidth_limit} holds its {@code max}: the rate measured over about 30 s
 * divided by {@code max} (the target: within 5 %, i.e. 0.95 to 1.05).
 *
 * <p>Run: {@code bench/run bandwidth} (needs zfs-fuse running for the first figure: {@code
 * scripts/zfs-fuse.sh up}). {@code bench/run --smoke bandwidth} is a pass of a few seconds (2 s
 * each, the replication at 8 MiB/s; figures not meaningful). Prints one figure per line as {@code
 * name value unit}:
 *
 * <ul>
 *   <li>{@code bandwidth.accuracy} ratio, and {@code bandwidth.rate} MiB/s: a real replication, a
 *       {@link Push} whose local {@link Sender} has {@code send.bandwidth_limit} {@code max: 20
 *       MiB} (default 128 KiB bucket), over TCP on 127.0.0.1 to an {@link RpcServer} serving a sink
 *       {@link ReceiverEndpoint}, of a snapshot of 600 MiB of random data on a zfs-fuse pool the
 *       benchmark creates (and destroys). The rate is the step's stream bytes after its first read
 *       over the time from the progress report of that read to the one of its last byte: the pace
 *       the limit sets while the stream flows. {@code bandwidth.accuracy.step}: all the step's
 *       bytes over the time from the step's start (before the sender's listing, its step holds and
 *       the start of zfs send: some 0.3 s on zfs-fuse) to its last byte. Unlimited, the same push
 *       runs at 600-730 MiB/s here ({@code replication.full.tcp}), so the limit and nothing else
 *       sets the pace.
 *   <li>{@code bandwidth.accuracy.stream} ratio: the limited stream alone over a real socket, as a
 *       source job serves it: an {@link RpcServer} endpoint returns a limited stream (20 MiB/s) of
 *       a source as fast as memory (a channel, like zfs send's pipe), an {@code RpcClient} over TCP
 *       on 127.0.0.1 reads 600 MiB of it; bytes over the time from the call to the last byte.
 *   <li>{@code bandwidth.accuracy.shared4} ratio: four such streams at once over four connections,
 *       all limited by one limiter of 20 MiB/s (one job's concurrent steps): their bytes together
 *       over the time from the first call to the last byte of all.
 * </ul>
 */
public final class BandwidthBench {
  private static final long MIB = 1L << 20;
  private static final String CLIENT = "bench";
  private static final long BUCKET = 128 * 1024;

  private BandwidthBench() {}

  /** The request of the limited stream endpoint. */
  public record StreamRequest(long bytes) {}

  /** Serves streams limited by one limiter. */
  public static final class LimitedEndpoints {
    private final BandwidthLimiter limiter;

    LimitedEndpoints(BandwidthLimiter limiter) {
      this.limiter = limiter;
    }

    public InputStream stream(StreamRequest r) {
      return limiter.limit(new FastSource(r.bytes()));
    }
  }

  public static void main(String[] args) throws Exception {
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    }
    boolean smoke = Boolean.getBoolean("zrepl4j.bench.smoke");
    double seconds = smoke ? 2 : 30;
    long max = 20 * MIB;
    boolean replication = !"false".equals(System.getProperty("zrepl4j.bench.replication"));
    if (replication) {
      long rmax = smoke ? 8 * MIB : max;
      var rates = replicationRate(rmax, (long) (rmax * seconds));
      print("bandwidth.accuracy", "%.4f", rates.flowing() / rmax, "ratio");
      print("bandwidth.accuracy.step", "%.4f", rates.step() / rmax, "ratio");
      print("bandwidth.rate", "%.2f", rates.flowing() / MIB, "MiB/s");
      print("bandwidth.max", "%.2f", (double) rmax / MIB, "MiB/s");
    }
    print(
        "bandwidth.accuracy.stream",
        "%.4f",
        streams(max, 1, (long) (max * seconds)) / max,
        "ratio");
    print(
        "bandwidth.accuracy.shared4",
        "%.4f",
        streams(max, 4, (long) (max * seconds / 4)) / max,
        "ratio");
  }

  private static void print(String name, String format, double value, String unit) {
    System.out.println(name + " " + String.format(Locale.ROOT, format, value) + " " + unit);
  }

  // -------------------------------------------------------------------------------- replication

  /**
   * A limited push of {@code bytes} of random data on zfs-fuse.
   *
   * @return bytes a second of the step: from its first read to its last, and from its start
   */
  private static StepRates replicationRate(long max, long bytes) throws Exception {
    var dir = Path.of("/var/tmp/zrepl4j-bench");
    var id = UUID.randomUUID().toString().substring(0, 8);
    long mib = bytes / MIB;
    try (var src = new BenchPool("zbw-src-" + id, dir, mib + 512);
        var dst = new BenchPool("zbw-dst-" + id, dir, mib + 512)) {
      var zfs = RealZfs.start(List.of("zfs"), List.of("zpool"));
      var data = DatasetPath.parse(src.name).child("data");
      Shell.run("zfs", "create", "-o", "compression=off", data.toString());
      Shell.writeRandom(src.mountpoint.resolve("data").resolve("random.bin"), bytes, 42);
      Shell.run("zfs", "snapshot", data + "@s");
      Shell.run("sync");
      var sinkRoot = DatasetPath.parse(dst.name).child("sink");
      Shell.run("zfs", "create", "-o", "mountpoint=none", sinkRoot.toString());
      var progress = new StepTimes();
      try (var server = new RpcServer(RpcOptions.defaults())) {
        server.register(
            "receiver",
            new ReceiverEndpoint(
                zfs, sinkRoot, Receiver.Mode.SINK, CLIENT, ReceiverOptions.DEFAULTS));
        try (var l =
                server.listenTcp(
                    new InetSocketAddress("127.0.0.1", 0), peer -> Optional.of(CLIENT));
            var push =
                new Push(
                    new Sender(
                        zfs,
                        DatasetFilter.of(Map.of(data.toString(), true)),
                        CLIENT,
                        SenderOptions.PLAIN,
                        n -> {},
                        BandwidthLimiter.of(max, BUCKET)),
                    CLIENT,
                    Dialer.tcp(
                        "127.0.0.1", l.port(), Duration.ofSeconds(5), RpcOptions.defaults()))) {
          var report = push.run(Replication.Config.defaults(CLIENT), progress);
          if (!report.ok()
              || report.filesystems().stream()
                  .noneMatch(f -> f.state() == Replication.FsReport.State.REPLICATED)) {
            throw new IllegalStateException("the limited push failed: " + report);
          }
        }
        // the direct data path where the kernel paces (docs/DIRECT-PATH.md), else the relay
        System.err.printf(
            Locale.ROOT,
            "replication: %s%n",
            server.directCalls() > 0
                ? "direct data path, paced by the kernel (SO_MAX_PACING_RATE)"
                : "relay, through the token bucket");
      }
      long n = progress.lastBytes;
      if (n < bytes) {
        throw new IllegalStateException("the step moved " + n + " bytes, less than " + bytes);
      }
      double s = (progress.lastNanos - progress.startNanos) / 1e9;
      double flowing = (progress.lastNanos - progress.firstNanos) / 1e9;
      System.err.printf(
          Locale.ROOT,
          "replication: %d bytes in %.3f s from the step's start, %d in %.3f s from the first"
              + " read (limit %d B/s)%n",
          n,
          s,
          n - progress.firstBytes,
          flowing,
          max);
      return new StepRates((n - progress.firstBytes) / flowing, n / s);
    }
  }

  /** When the (one) step started, and when its first and last bytes were reported. */
  private static final class StepTimes implements Replication.Progress {
    long startNanos;
    long firstNanos;
    long firstBytes;
    long lastNanos;
    long lastBytes;

    @Override
    public synchronized void transferred(String filesystem, Step step, long bytes) {
      long now = System.nanoTime();
      if (startNanos == 0) {
        startNanos = now; // the step's start: reported with 0 bytes
      }
      if (bytes > 0 && firstBytes == 0) {
        firstBytes = bytes;
        firstNanos = now;
      }
      if (bytes > lastBytes) {
        lastBytes = bytes;
        lastNanos = now;
      }
    }
  }

  /** The rates of a limited step. */
  private record StepRates(double flowing, double step) {}

  // ------------------------------------------------------------------------------------ streams

  /**
   * {@code n} limited streams of {@code bytes} each at once, over {@code n} RPC connections, one
   * limiter of {@code max}.
   *
   * @return their bytes together a second
   */
  private static double streams(long max, int n, long bytes) throws Exception {
    var loopback = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
    var limiter = BandwidthLimiter.of(max, BUCKET);
    try (ExecutorService pool =
            Executors.newThreadPerTaskExecutor(Thread.ofPlatform().name("bench-", 0).factory());
        var server = new RpcServer(RpcOptions.defaults()).register(new LimitedEndpoints(limiter));
        var listener = server.listenTcp(loopback, addr -> Optional.of(CLIENT))) {
      var clients = new ArrayList<RpcClient>();
      try {
        for (int i = 0; i < n; i++) {
          clients.add(
              RpcClient.tcp(
                  "127.0.0.1", listener.port(), Duration.ofSeconds(5), RpcOptions.defaults()));
        }
        long t0 = System.nanoTime();
        var reads = new ArrayList<Future<Long>>();
        for (var c : clients) {
          reads.add(pool.submit((Callable<Long>) () -> readAll(c, bytes)));
        }
        long total = 0;
        for (var r : reads) {
          total += r.get();
        }
        double s = (System.nanoTime() - t0) / 1e9;
        System.err.printf(
            Locale.ROOT, "%d stream(s): %d bytes in %.3f s (limit %d B/s)%n", n, total, s, max);
        return total / s;
      } finally {
        for (var c : clients) {
          c.close();
        }
      }
    }
  }

  private static long readAll(RpcClient client, long bytes) throws IOException {
    var buf = ByteBuffer.allocateDirect((int) MIB);
    var heap = new byte[(int) MIB];
    long got = 0;
    try (InputStream in = client.callStream("stream", new StreamRequest(bytes))) {
      if (in instanceof ReadableByteChannel ch) {
        int k;
        while ((k = ch.read(buf.clear())) >= 0) {
          got += k;
        }
      } else {
        int k;
        while ((k = in.read(heap)) >= 0) {
          got += k;
        }
      }
    }
    if (got != bytes) {
      throw new IllegalStateException("stream ended after " + got + " of " + bytes + " bytes");
    }
    return got;
  }

  /** {@code bytes} zero bytes as fast as a channel can give them (stands in for zfs send). */
  private static final class FastSource extends InputStream implements ReadableByteChannel {
    private long left;

    FastSource(long bytes) {
      this.left = bytes;
    }

    @Override
    public int read() {
      if (left == 0) {
        return -1;
      }
      left--;
      return 0;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      if (left == 0) {
        return len == 0 ? 0 : -1;
      }
      int n = (int) Math.min(len, left);
      Arrays.fill(b, off, off + n, (byte) 0);
      left -= n;
      return n;
    }

    @Override
    public int read(ByteBuffer dst) {
      if (left == 0) {
        return -1;
      }
      int n = (int) Math.min(dst.remaining(), left);
      dst.position(dst.position() + n); // the buffer's bytes, whatever they are: only counts matter
      left -= n;
      return n;
    }

    @Override
    public boolean isOpen() {
      return true;
    }
  }
}
