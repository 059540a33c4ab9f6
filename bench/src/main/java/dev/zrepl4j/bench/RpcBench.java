package dev.zrepl4j.bench;

import com.sun.management.OperatingSystemMXBean;
import dev.zrepl4j.rpc.RpcClient;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;

/**
 * Throughput of one RPC octet stream and rate of sequential JSON calls over TCP on 127.0.0.1, each
 * against a plain-socket baseline measured in the same JVM and the same run.
 *
 * <p>Run: {@code bench/run rpc} ({@code bench/run --smoke rpc}, i.e. {@code
 * -Dzrepl4j.bench.smoke=true}, is a pass of a few seconds for CI: 64 MiB streams, 0.5 s of calls,
 * one run each, figures not meaningful). Prints one figure per line as {@code name value unit}:
 *
 * <ul>
 *   <li>{@code raw.stream.tcp} GiB/s, the baseline: a writer thread accepts a blocking {@link
 *       SocketChannel} and writes 4 GiB from one 1 MiB direct {@link ByteBuffer} (the same buffer,
 *       rewound after each write completes); a reader thread connects a blocking {@code
 *       SocketChannel} and reads into one 1 MiB direct {@code ByteBuffer}, discarding, until it has
 *       4 GiB. TCP_NODELAY is set on both ends, as the RPC transport does. Timed from the moment
 *       both ends are connected until the reader has the last byte. Direct buffers: the kernel
 *       copies straight from and to them, the best a JVM program can do over a socket.
 *   <li>{@code raw.stream.heap.tcp} GiB/s: the same with heap buffers (the JDK copies each through
 *       a temporary direct buffer), the baseline until 2026-12 (too easy: the RPC layer measured up
 *       to 1.44 of it).
 *   <li>{@code rpc.stream.tcp} GiB/s: an {@link RpcServer} with {@link RpcOptions#defaults()}
 *       serves an endpoint that returns a stream of 4 GiB that is also a {@code
 *       ReadableByteChannel} over a preallocated 1 MiB direct buffer (what a pull's {@code zfs
 *       send} pipe is, so the server takes its direct path). The client ({@code RpcClient.tcp},
 *       defaults, already connected and negotiated) calls {@code callStream} and reads the stream
 *       to its end through its channel into a 1 MiB direct buffer, as a receive does, discarding.
 *       Timed from the call to the end of the stream.
 *   <li>{@code rpc.stream.ratio}: rpc / raw (direct buffers).
 *   <li>{@code rpc.upload.tcp} GiB/s, {@code rpc.upload.ratio}: the other direction, a push: {@code
 *       callWithBody} streams 4 GiB of the same chunk (a {@code ReadableByteChannel} over a direct
 *       buffer, as a push's {@code zfs send} pipe is) as the request body of one call; the endpoint
 *       reads it to its end with 1 MiB reads and answers the count.
 *   <li>{@code grpc.download.tcp}, {@code grpc.upload.tcp} GiB/s: gRPC-java ({@link GrpcBaseline}:
 *       Netty, plaintext, {@code directExecutor}, byte-array messages of 1 MiB, flow control
 *       respected) moving the same 4 GiB in a server-streaming and a client-streaming call; {@code
 *       rpc.stream.grpc.ratio} and {@code rpc.upload.grpc.ratio}: ours / gRPC's.
 *   <li>{@code raw.stream.cpu}, {@code rpc.stream.cpu} s/GiB: process CPU time ({@code
 *       OperatingSystemMXBean.getProcessCpuTime}) consumed during the timed run, both ends being in
 *       this JVM, per GiB moved.
 *   <li>{@code raw.pingpong.tcp} calls/s: sequential round trips over one blocking {@code
 *       SocketChannel} (TCP_NODELAY, direct buffers): the client writes 200 bytes and reads 200
 *       bytes back; an echo thread reads 200 and writes them back.
 *   <li>{@code rpc.calls.tcp} calls/s: sequential {@code client.call("call", record,
 *       CallRecord.class)} over one {@code RpcClient}; request and response are each a record of
 *       about 200 bytes of JSON (see {@link CallRecord}); the endpoint returns the request with its
 *       sequence number incremented.
 *   <li>{@code rpc.calls.ratio}: rpc / raw.
 *   <li>{@code grpc.calls.tcp} calls/s: sequential unary gRPC calls echoing 200 bytes (no
 *       serialization at all: a stricter baseline than protobuf); {@code rpc.calls.grpc.ratio}:
 *       ours / gRPC's.
 * </ul>
 *
 * <p>Each measurement is warmed up first (the same work, shorter, so the JIT has compiled the hot
 * paths). Streams: best of 3 runs of 4 GiB each (2 shared cores: noise only ever slows a run down),
 * raw, rpc and gRPC interleaved; the CPU figure is the smallest of the 3 runs. Calls: best of 3
 * windows of 2 s each, raw, rpc and gRPC interleaved.
 *
 * <p>Threads: the benchmark's own threads (the raw writer, reader and echo thread, and the RPC
 * client's calling and reading thread) are platform threads by default, the faster choice for both
 * baseline and RPC on this machine; {@code -Dzrepl4j.bench.threads=virtual} runs all of them on
 * virtual threads instead. The RPC server serves each connection on a platform thread of its own,
 * whatever this flag says: a virtual thread blocked in a socket read is woken through the JDK's
 * poller, one round trip per read, which a platform thread saves (see {@code RpcServer}'s notes).
 */
public final class RpcBench {
  private static final long GIB = 1L << 30;
  private static final long MIB = 1L << 20;
  private static final int CHUNK = 1 << 20;
  private static final int PING = 200;

  private static final OperatingSystemMXBean OS =
      (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

  private RpcBench() {}

  /** The request of the streaming endpoint. */
  public record StreamRequest(long bytes) {}

  /**
   * A call's request and response: about 200 bytes of JSON, e.g. {@code
   * {"Name":"pool/backup/host-01/home@zrepl_20250101_120000_000","Guid":1234567890123456789,
   * "CreateTxg":1234567,"Seq":42,"Note":"..."}} with a 64-character note.
   */
  public record CallRecord(String name, long guid, long createTxg, long seq, String note) {}

  /** The answer of the upload endpoint. */
  public record UploadResult(long bytes) {}

  /** The benchmark's endpoints. */
  public static final class BenchEndpoints {
    final byte[] chunk = new byte[CHUNK];

    public BenchEndpoints() {
      for (int i = 0; i < chunk.length; i++) {
        chunk[i] = (byte) (i * 31 + (i >>> 9));
      }
    }

    /**
     * A channel over a direct chunk, as a pull's {@code zfs send} pipe is (the server's direct
     * path).
     */
    public InputStream stream(StreamRequest r) {
      return new ChunkChannel(chunk, r.bytes());
    }

    /** Reads a pushed body to its end; answers how many bytes it had. */
    public UploadResult upload(StreamRequest r, InputStream body) throws IOException {
      byte[] b = new byte[CHUNK];
      long got = 0;
      int n;
      while ((n = body.read(b, 0, b.length)) >= 0) {
        got += n;
      }
      return new UploadResult(got);
    }

    public CallRecord call(CallRecord r) {
      return new CallRecord(r.name(), r.guid(), r.createTxg(), r.seq() + 1, r.note());
    }
  }

  /**
   * {@code bytes} bytes of one preallocated direct chunk, repeated, that is also a {@link
   * ReadableByteChannel}: what a push's body is ({@code SendStream}, the pipe of {@code zfs send}),
   * so the client sends it through its direct-buffer path.
   */
  private static final class ChunkChannel extends InputStream implements ReadableByteChannel {
    private final ByteBuffer chunk;
    private long left;
    private boolean open = true;

    ChunkChannel(byte[] bytes, long total) {
      this.chunk = ByteBuffer.allocateDirect(bytes.length).put(bytes).flip();
      this.left = total;
    }

    @Override
    public int read(ByteBuffer dst) {
      if (left == 0) {
        return -1;
      }
      int n = (int) Math.min(Math.min(dst.remaining(), left), chunk.remaining());
      dst.put(dst.position(), chunk, chunk.position(), n);
      dst.position(dst.position() + n);
      chunk.position(chunk.position() + n);
      if (!chunk.hasRemaining()) {
        chunk.rewind();
      }
      left -= n;
      return n;
    }

    @Override
    public int read() {
      throw new UnsupportedOperationException("read through the channel");
    }

    @Override
    public int read(byte[] b, int off, int len) {
      return read(ByteBuffer.wrap(b, off, len));
    }

    @Override
    public boolean isOpen() {
      return open;
    }

    @Override
    public void close() {
      open = false;
    }
  }

  /** One timed stream run. */
  private record Run(double gibPerSecond, double cpuPerGib) {}

  public static void main(String[] args) throws Exception {
    boolean smoke = Boolean.getBoolean("zrepl4j.bench.smoke");
    boolean virtual = "virtual".equals(System.getProperty("zrepl4j.bench.threads", "platform"));
    long streamBytes = smoke ? 64 * MIB : 4 * GIB;
    long warmBytes = smoke ? 16 * MIB : 512 * MIB;
    int runs = smoke ? 1 : 3;
    Duration window = smoke ? Duration.ofMillis(500) : Duration.ofSeconds(2);
    Duration warmWindow = smoke ? Duration.ofMillis(100) : Duration.ofSeconds(2);

    ThreadFactory threads =
        virtual
            ? Thread.ofVirtual().name("bench-", 0).factory()
            : Thread.ofPlatform().name("bench-", 0).factory();
    var loopback = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
    try (ExecutorService pool = Executors.newThreadPerTaskExecutor(threads);
        var server = new RpcServer(RpcOptions.defaults()).register(new BenchEndpoints());
        var listener = server.listenTcp(loopback, addr -> Optional.of("bench"));
        RpcClient client =
            RpcClient.tcp(
                "127.0.0.1", listener.port(), Duration.ofSeconds(5), RpcOptions.defaults());
        var grpc = new GrpcBaseline(CHUNK)) {

      // ---- streams: raw (direct and heap buffers), ours (download, upload), gRPC (the same)
      var chunk = new BenchEndpoints().chunk;
      rawStream(pool, warmBytes, true);
      rawStream(pool, warmBytes, false);
      onThread(pool, () -> rpcStream(client, warmBytes));
      onThread(pool, () -> rpcUpload(client, chunk, warmBytes));
      onThread(pool, () -> grpcDownload(grpc, warmBytes));
      onThread(pool, () -> grpcUpload(grpc, warmBytes));
      var raw = new Run[runs];
      var heap = new Run[runs];
      var rpc = new Run[runs];
      var rpcUp = new Run[runs];
      var grpcDown = new Run[runs];
      var grpcUp = new Run[runs];
      for (int i = 0; i < runs; i++) {
        raw[i] = rawStream(pool, streamBytes, true);
        rpc[i] = onThread(pool, () -> rpcStream(client, streamBytes));
        grpcDown[i] = onThread(pool, () -> grpcDownload(grpc, streamBytes));
        heap[i] = rawStream(pool, streamBytes, false);
        rpcUp[i] = onThread(pool, () -> rpcUpload(client, chunk, streamBytes));
        grpcUp[i] = onThread(pool, () -> grpcUpload(grpc, streamBytes));
      }
      double rawGibs = best(raw);
      double rpcGibs = best(rpc);
      double rpcUpGibs = best(rpcUp);
      double grpcDownGibs = best(grpcDown);
      double grpcUpGibs = best(grpcUp);
      print("raw.stream.tcp", "%.3f", rawGibs, "GiB/s");
      print("raw.stream.heap.tcp", "%.3f", best(heap), "GiB/s");
      print("rpc.stream.tcp", "%.3f", rpcGibs, "GiB/s");
      print("rpc.stream.ratio", "%.3f", rpcGibs / rawGibs, "ratio");
      print("rpc.upload.tcp", "%.3f", rpcUpGibs, "GiB/s");
      print("rpc.upload.ratio", "%.3f", rpcUpGibs / rawGibs, "ratio");
      print("grpc.download.tcp", "%.3f", grpcDownGibs, "GiB/s");
      print("grpc.upload.tcp", "%.3f", grpcUpGibs, "GiB/s");
      print("rpc.stream.grpc.ratio", "%.3f", rpcGibs / grpcDownGibs, "ratio");
      print("rpc.upload.grpc.ratio", "%.3f", rpcUpGibs / grpcUpGibs, "ratio");
      print("raw.stream.cpu", "%.3f", leastCpu(raw), "s/GiB");
      print("rpc.stream.cpu", "%.3f", leastCpu(rpc), "s/GiB");
      print("rpc.upload.cpu", "%.3f", leastCpu(rpcUp), "s/GiB");
      print("grpc.download.cpu", "%.3f", leastCpu(grpcDown), "s/GiB");
      print("grpc.upload.cpu", "%.3f", leastCpu(grpcUp), "s/GiB");

      // ---- calls
      rawPingPong(pool, warmWindow);
      onThread(pool, () -> rpcCalls(client, warmWindow));
      onThread(pool, () -> grpcCalls(grpc, warmWindow));
      double rawRate = 0;
      double rpcRate = 0;
      double grpcRate = 0;
      for (int i = 0; i < runs; i++) {
        rawRate = Math.max(rawRate, rawPingPong(pool, window));
        rpcRate = Math.max(rpcRate, onThread(pool, () -> rpcCalls(client, window)));
        grpcRate = Math.max(grpcRate, onThread(pool, () -> grpcCalls(grpc, window)));
      }
      print("raw.pingpong.tcp", "%.0f", rawRate, "calls/s");
      print("rpc.calls.tcp", "%.0f", rpcRate, "calls/s");
      print("grpc.calls.tcp", "%.0f", grpcRate, "calls/s");
      print("rpc.calls.ratio", "%.3f", rpcRate / rawRate, "ratio");
      print("rpc.calls.grpc.ratio", "%.3f", rpcRate / grpcRate, "ratio");
    }
  }

  private static double best(Run[] runs) {
    return Arrays.stream(runs).mapToDouble(Run::gibPerSecond).max().orElseThrow();
  }

  private static double leastCpu(Run[] runs) {
    return Arrays.stream(runs).mapToDouble(Run::cpuPerGib).min().orElseThrow();
  }

  private static void print(String name, String format, double value, String unit) {
    System.out.println(name + " " + String.format(Locale.ROOT, format, value) + " " + unit);
  }

  private static <T> T onThread(ExecutorService pool, Callable<T> task) throws Exception {
    try {
      return pool.submit(task).get();
    } catch (ExecutionException e) {
      throw e.getCause() instanceof Exception x ? x : e;
    }
  }

  // ------------------------------------------------------------------------------------- streams

  private static Run rawStream(ExecutorService pool, long bytes, boolean direct) throws Exception {
    try (var ss = ServerSocketChannel.open()) {
      ss.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      try (var reader = SocketChannel.open(ss.getLocalAddress());
          var writer = ss.accept()) {
        reader.setOption(StandardSocketOptions.TCP_NODELAY, true);
        writer.setOption(StandardSocketOptions.TCP_NODELAY, true);
        long cpu0 = OS.getProcessCpuTime();
        long t0 = System.nanoTime();
        Future<?> w =
            pool.submit(
                () -> {
                  ByteBuffer b =
                      direct ? ByteBuffer.allocateDirect(CHUNK) : ByteBuffer.allocate(CHUNK);
                  long left = bytes;
                  while (left > 0) {
                    b.clear().limit((int) Math.min(CHUNK, left));
                    while (b.hasRemaining()) {
                      left -= writer.write(b);
                    }
                  }
                  return null;
                });
        Future<Long> r =
            pool.submit(
                () -> {
                  ByteBuffer b =
                      direct ? ByteBuffer.allocateDirect(CHUNK) : ByteBuffer.allocate(CHUNK);
                  long got = 0;
                  while (got < bytes) {
                    b.clear();
                    int n = reader.read(b);
                    if (n < 0) {
                      throw new EOFException("raw stream ended after " + got + " bytes");
                    }
                    got += n;
                  }
                  return got;
                });
        w.get();
        r.get();
        long t1 = System.nanoTime();
        long cpu1 = OS.getProcessCpuTime();
        return run(bytes, t1 - t0, cpu1 - cpu0);
      }
    }
  }

  private static Run rpcStream(RpcClient client, long bytes) throws IOException {
    ByteBuffer b = ByteBuffer.allocateDirect(CHUNK);
    long cpu0 = OS.getProcessCpuTime();
    long t0 = System.nanoTime();
    long got = 0;
    try (InputStream in = client.callStream("stream", new StreamRequest(bytes))) {
      // read as a receive reads it: through the channel, into a direct buffer
      var ch = (ReadableByteChannel) in;
      int n;
      while ((n = ch.read(b.clear())) >= 0) {
        got += n;
      }
    }
    long t1 = System.nanoTime();
    long cpu1 = OS.getProcessCpuTime();
    if (got != bytes) {
      throw new IOException("rpc stream had " + got + " bytes, expected " + bytes);
    }
    return run(bytes, t1 - t0, cpu1 - cpu0);
  }

  /** Moves {@code bytes} with {@code transfer}, which answers how many arrived; timed. */
  private static Run timed(String what, long bytes, Transfer transfer) throws Exception {
    long cpu0 = OS.getProcessCpuTime();
    long t0 = System.nanoTime();
    long got = transfer.run();
    long t1 = System.nanoTime();
    long cpu1 = OS.getProcessCpuTime();
    if (got != bytes) {
      throw new IOException(what + " had " + got + " bytes, expected " + bytes);
    }
    return run(bytes, t1 - t0, cpu1 - cpu0);
  }

  /** One transfer of {@link #timed}. */
  @FunctionalInterface
  private interface Transfer {
    long run() throws Exception;
  }

  private static Run rpcUpload(RpcClient client, byte[] chunk, long bytes) throws Exception {
    return timed(
        "rpc upload",
        bytes,
        () ->
            client
                .callWithBody(
                    "upload",
                    new StreamRequest(bytes),
                    new ChunkChannel(chunk, bytes),
                    UploadResult.class)
                .bytes());
  }

  private static Run grpcDownload(GrpcBaseline grpc, long bytes) throws Exception {
    return timed("gRPC download", bytes, () -> grpc.download(bytes));
  }

  private static Run grpcUpload(GrpcBaseline grpc, long bytes) throws Exception {
    return timed("gRPC upload", bytes, () -> grpc.upload(bytes));
  }

  private static double grpcCalls(GrpcBaseline grpc, Duration window) throws IOException {
    byte[] req = new byte[200];
    long end = System.nanoTime() + window.toNanos();
    long t0 = System.nanoTime();
    long calls = 0;
    long now;
    do {
      req[0] = (byte) calls;
      byte[] resp = grpc.echo(req);
      if (resp.length != req.length || resp[0] != (byte) calls) {
        throw new IOException("gRPC echo broke");
      }
      calls++;
      now = System.nanoTime();
    } while (now < end);
    return calls / ((now - t0) / 1e9);
  }

  private static Run run(long bytes, long nanos, long cpuNanos) {
    double gib = (double) bytes / GIB;
    return new Run(gib / (nanos / 1e9), cpuNanos / 1e9 / gib);
  }

  // --------------------------------------------------------------------------------------- calls

  private static double rawPingPong(ExecutorService pool, Duration window) throws Exception {
    try (var ss = ServerSocketChannel.open()) {
      ss.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      try (var client = SocketChannel.open(ss.getLocalAddress());
          var echo = ss.accept()) {
        client.setOption(StandardSocketOptions.TCP_NODELAY, true);
        echo.setOption(StandardSocketOptions.TCP_NODELAY, true);
        Future<?> e =
            pool.submit(
                () -> {
                  ByteBuffer b = ByteBuffer.allocateDirect(PING);
                  while (true) {
                    b.clear();
                    if (!readFully(echo, b)) {
                      return null; // the client closed
                    }
                    b.flip();
                    while (b.hasRemaining()) {
                      echo.write(b);
                    }
                  }
                });
        double rate =
            onThread(
                pool,
                () -> {
                  ByteBuffer out = ByteBuffer.allocateDirect(PING);
                  ByteBuffer in = ByteBuffer.allocateDirect(PING);
                  long end = System.nanoTime() + window.toNanos();
                  long t0 = System.nanoTime();
                  long calls = 0;
                  long now;
                  do {
                    out.clear();
                    out.put(0, (byte) calls);
                    while (out.hasRemaining()) {
                      client.write(out);
                    }
                    in.clear();
                    if (!readFully(client, in) || in.get(0) != (byte) calls) {
                      throw new IOException("echo broke");
                    }
                    calls++;
                    now = System.nanoTime();
                  } while (now < end);
                  return calls / ((now - t0) / 1e9);
                });
        client.shutdownOutput();
        e.get();
        return rate;
      }
    }
  }

  /** Fills {@code b}; false on a clean EOF before its first byte. */
  private static boolean readFully(SocketChannel ch, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      if (ch.read(b) < 0) {
        if (b.position() == 0) {
          return false;
        }
        throw new EOFException("short read");
      }
    }
    return true;
  }

  private static double rpcCalls(RpcClient client, Duration window) throws IOException {
    var req =
        new CallRecord(
            "pool/backup/host-01/home@zrepl_20250101_120000_000",
            1234567890123456789L,
            1234567,
            0,
            "x".repeat(64));
    long end = System.nanoTime() + window.toNanos();
    long t0 = System.nanoTime();
    long calls = 0;
    long now;
    do {
      CallRecord resp = client.call("call", req, CallRecord.class);
      if (resp.seq() != req.seq() + 1) {
        throw new IOException("wrong response " + resp);
      }
      req = resp;
      calls++;
      now = System.nanoTime();
    } while (now < end);
    return calls / ((now - t0) / 1e9);
  }
}
