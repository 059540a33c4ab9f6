package dev.zrepl4j.rpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.rpc.SeedEndpoints.EchoMsg;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * An accept loop survives failures of {@code accept()} (issue 13, defect 2): it keeps accepting
 * after them, and stops only when its listener is closed.
 */
class AcceptLoopTest {
  private final ExecutorService exec = Executors.newVirtualThreadPerTaskExecutor();

  @AfterEach
  void shutdown() {
    exec.shutdownNow();
  }

  /** Calls Echo on a fresh TCP client, failing after 20 s instead of hanging. */
  private EchoMsg echoWithin20s(int port, int seq) throws Exception {
    var f =
        exec.submit(
            () -> {
              try (var c =
                  RpcClient.tcp("127.0.0.1", port, Duration.ofSeconds(5), RpcOptions.defaults())) {
                return c.call("Echo", new EchoMsg(seq, "again"), EchoMsg.class);
              }
            });
    return f.get(20, TimeUnit.SECONDS);
  }

  @Test
  void acceptThatThrowsDoesNotEndTheLoop() throws Exception {
    var failures = new AtomicInteger();
    try (var server = new RpcServer(RpcOptions.defaults()).register(new SeedEndpoints());
        var ss = ServerSocketChannel.open()) {
      ss.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      var listener =
          server.listen(
              ss.getLocalAddress(),
              ss,
              new RpcServer.Acceptor<SocketChannel>() {
                @Override
                public SocketChannel accept() throws IOException {
                  if (failures.incrementAndGet() <= 3) {
                    throw new IOException("Too many open files");
                  }
                  return ss.accept();
                }

                @Override
                public Optional<RpcServer.Accepted> open(SocketChannel s) throws IOException {
                  return Optional.of(
                      new RpcServer.Accepted(Transport.of(s), new Caller("c", "test")));
                }
              });
      int port = listener.port();
      assertThat(echoWithin20s(port, 7)).isEqualTo(new EchoMsg(7, "again"));
      assertThat(failures.get()).isGreaterThan(3);
      listener.close();
      int after = failures.get();
      // closed: the loop ends (at most the accept that was blocked returns once more)
      Thread.sleep(300); // a positive check follows: the count must not keep growing
      assertThat(failures.get()).isLessThanOrEqualTo(after + 1);
    }
  }

  @Test
  void backoffGrowsAndIsCapped() {
    assertThat(RpcServer.acceptBackoff(1)).isEqualTo(Duration.ofMillis(10));
    assertThat(RpcServer.acceptBackoff(2)).isEqualTo(Duration.ofMillis(20));
    assertThat(RpcServer.acceptBackoff(7)).isEqualTo(Duration.ofMillis(640));
    assertThat(RpcServer.acceptBackoff(8)).isEqualTo(Duration.ofSeconds(1));
    assertThat(RpcServer.acceptBackoff(1000)).isEqualTo(Duration.ofSeconds(1));
  }

  /**
   * The real condition: a server in a child JVM limited to few file descriptors ({@code ulimit -n})
   * runs out of them (EMFILE on accept) while we hold many connections; once we let them go, it
   * accepts and answers a new client.
   */
  @Test
  void serverOutOfFileDescriptorsAcceptsAgainOnceSomeAreFree() throws Exception {
    String java = ProcessHandle.current().info().command().orElse("java");
    var pb =
        new ProcessBuilder(
            "sh",
            "-c",
            "ulimit -n 96 && exec \"$0\" -cp \"$1\" " + EchoServerMain.class.getName(),
            java,
            System.getProperty("java.class.path"));
    Process p = pb.start();
    var lines = new LinkedBlockingQueue<String>();
    var stderr = new StringBuilder();
    exec.submit(
        () -> {
          try (var r =
              new BufferedReader(
                  new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
            String l;
            while ((l = r.readLine()) != null) {
              synchronized (stderr) {
                stderr.append(l).append('\n');
              }
              lines.add(l);
            }
          }
          return null;
        });
    var held = new ArrayList<Socket>();
    try {
      var portLine =
          CompletableFuture.supplyAsync(
                  () -> {
                    try {
                      return new BufferedReader(
                              new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))
                          .readLine();
                    } catch (IOException e) {
                      throw new IllegalStateException(e);
                    }
                  },
                  exec)
              .get(60, TimeUnit.SECONDS);
      assertThat(portLine).as("child's stderr: %s", stderr).startsWith("port ");
      int port = Integer.parseInt(portLine.substring(5).trim());
      assertThat(echoWithin20s(port, 1)).isEqualTo(new EchoMsg(1, "again"));

      boolean emfile = false;
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (!emfile && held.size() < 400 && System.nanoTime() < deadline) {
        var s = new Socket();
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5000);
        held.add(s);
        String l;
        while ((l = lines.poll(held.size() % 10 == 0 ? 200 : 0, TimeUnit.MILLISECONDS)) != null) {
          if (l.contains("Too many open files")) {
            emfile = true;
          }
        }
      }
      assertThat(emfile)
          .as(
              "the child ran out of descriptors (held %d connections); stderr: %s",
              held.size(), stderr)
          .isTrue();
      closeAll(held);
      assertThat(echoWithin20s(port, 2)).isEqualTo(new EchoMsg(2, "again"));
    } finally {
      closeAll(held);
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
    }
  }

  private static void closeAll(List<Socket> sockets) throws IOException {
    for (var s : sockets) {
      s.close();
    }
    sockets.clear();
  }
}
