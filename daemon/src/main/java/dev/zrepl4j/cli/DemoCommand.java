package dev.zrepl4j.cli;

import dev.zrepl4j.rpc.Caller;
import dev.zrepl4j.rpc.RpcClient;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Arrays;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code zrepl4j demo}: a self-contained run of the RPC layer on 127.0.0.1 (a server with a few
 * endpoints, a client calling them over TCP, a streamed body in each direction), printing what
 * happens. It becomes a real replication demo with the replication and daemon issues.
 */
@Command(name = "demo", description = "Run a short demonstration of the RPC layer on 127.0.0.1.")
final class DemoCommand implements Callable<Integer> {

  @Option(names = "--mib", description = "Size of the streamed bodies in MiB (default 1024).")
  private int mib = 1024;

  /** Demo request and response. */
  public record Greeting(String name, long bytes) {}

  /** The demo's endpoints. */
  public static final class Endpoints {
    public Greeting hello(Greeting g, Caller caller) {
      return new Greeting("hello " + g.name() + ", you are " + caller.identity(), 0);
    }

    public InputStream send(Greeting g) {
      return zeros(g.bytes());
    }

    public Greeting receive(Greeting g, InputStream body) throws IOException {
      return new Greeting(g.name(), body.transferTo(OutputStream.nullOutputStream()));
    }
  }

  static InputStream zeros(long n) {
    return new InputStream() {
      long left = n;

      @Override
      public int read() {
        return left-- > 0 ? 0 : -1;
      }

      @Override
      public int read(byte[] b, int off, int len) {
        if (left <= 0) {
          return -1;
        }
        int k = (int) Math.min(len, left);
        Arrays.fill(b, off, off + k, (byte) 0);
        left -= k;
        return k;
      }
    };
  }

  @Override
  public Integer call() throws Exception {
    long bytes = (long) mib << 20;
    try (var server = new RpcServer(RpcOptions.defaults()).register("demo", new Endpoints());
        var listener =
            server.listenTcp(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                a -> Optional.of("demo-client"))) {
      System.out.println("server listening on " + listener.address());
      try (var client =
          RpcClient.tcp(
              "127.0.0.1", listener.port(), Duration.ofSeconds(5), RpcOptions.defaults())) {
        System.out.println(
            "client connected; protocol extensions negotiated: " + client.extensions());
        var g = client.call("demo.hello", new Greeting("admin", 0), Greeting.class);
        System.out.println("demo.hello -> " + g.name());

        long t0 = System.nanoTime();
        long got;
        try (InputStream in = client.callStream("demo.send", new Greeting("", bytes))) {
          got = in.transferTo(OutputStream.nullOutputStream());
        }
        report("demo.send (server -> client stream)", got, t0);

        t0 = System.nanoTime();
        var r =
            client.callWithBody(
                "demo.receive", new Greeting("push", 0), zeros(bytes), Greeting.class);
        report("demo.receive (client -> server stream)", r.bytes(), t0);
      }
    }
    return 0;
  }

  private static void report(String what, long bytes, long t0) {
    double s = (System.nanoTime() - t0) / 1e9;
    System.out.printf(
        "%s: %d bytes in %.2f s (%.2f GiB/s)%n", what, bytes, s, bytes / s / (1 << 30));
  }
}
