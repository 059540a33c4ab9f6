package dev.zrepl4j.rpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The direct data path of the RPC library over real loopback TCP (docs/DIRECT-PATH.md): a body that
 * can write itself into a socket goes on a data connection of its own, bound to its call by a
 * ticket that only its own client can use once; where either side does not offer the path, the body
 * is framed as before.
 */
@Timeout(60)
class DirectDataTest {
  private static final MethodHandle WRITE =
      Linker.nativeLinker()
          .downcallHandle(
              Linker.nativeLinker().defaultLookup().findOrThrow("write"),
              FunctionDescriptor.of(
                  ValueLayout.JAVA_LONG,
                  ValueLayout.JAVA_INT,
                  ValueLayout.ADDRESS,
                  ValueLayout.JAVA_LONG));

  private final List<AutoCloseable> closeLater = new ArrayList<>();
  private RpcServer server;
  private int port;

  /** What the endpoint saw of the last body. */
  private volatile boolean sawDirect;

  private volatile long sawReceived;

  private volatile boolean taken;

  /** The test's endpoint: reads the body to its end and returns its digest. */
  public final class Sink {
    public String take(InputStream body) throws IOException {
      sawDirect = body instanceof DirectStream;
      taken = false;
      var bytes = body.readAllBytes();
      taken = true;
      if (body instanceof DirectStream d) {
        sawReceived = d.bytesReceived();
      }
      return digest(bytes);
    }

    /** Refuses the body before reading a byte of it (a receiver that says no). */
    public String refuse(InputStream body) throws IOException {
      throw new RemoteException(ErrorCode.FAILED_PRECONDITION, "not this one (zrepl#504)");
    }
  }

  /** What a response should be: its size, and whether its writer writes into the socket. */
  public record Ask(int bytes, boolean direct) {}

  /** The endpoint that answers with a stream. */
  public final class Source {
    public InputStream give(Ask ask, Caller caller) {
      sawCallerDirect = caller.directData();
      var bytes = random(ask.bytes());
      return ask.direct() ? new Writer(bytes, null) : new ByteArrayInputStream(bytes);
    }
  }

  /** The test endpoint's interface, as the client sees it. */
  public interface SinkApi {
    String take(InputStream body) throws IOException;

    String refuse(InputStream body) throws IOException;
  }

  /** The stream endpoint's interface, as the client sees it. */
  public interface SourceApi {
    InputStream give(Ask ask) throws IOException;
  }

  private volatile boolean sawCallerDirect;

  @BeforeEach
  void serve() throws IOException {
    server = serverWith(RpcOptions.defaults());
  }

  private RpcServer serverWith(RpcOptions options) throws IOException {
    var s = new RpcServer(options).register("sink", new Sink()).register("source", new Source());
    // 127.0.0.1 is alice, 127.0.0.2 (also this host) is mallory
    var l =
        s.listenTcp(
            new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
            a ->
                Optional.of(
                    a.getAddress().getHostAddress().equals("127.0.0.1") ? "alice" : "mallory"));
    port = l.port();
    closeLater.add(s);
    closeLater.add(l);
    return s;
  }

  @AfterEach
  void close() throws Exception {
    for (var c : closeLater.reversed()) {
      c.close();
    }
  }

  private RpcClient alice(RpcOptions options) throws IOException {
    var c = RpcClient.tcp("127.0.0.1", port, Duration.ofSeconds(5), options);
    closeLater.add(c);
    return c;
  }

  private static String digest(byte[] b) {
    try {
      return HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(b));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A body that writes {@code bytes} into the socket itself when asked, as zfs send would. */
  private static final class Writer extends ByteArrayInputStream implements DirectSource {
    final byte[] bytes;
    final AtomicLong progress = new AtomicLong();
    final @org.jspecify.annotations.Nullable IOException failAfterHalf;
    volatile int wroteInto = -1;
    volatile boolean blocking;

    Writer(byte[] bytes, @org.jspecify.annotations.Nullable IOException failAfterHalf) {
      super(bytes);
      this.bytes = bytes;
      this.failAfterHalf = failAfterHalf;
    }

    @Override
    public boolean direct() {
      return true;
    }

    @Override
    public void writeInto(int fd, LongSupplier sent) throws IOException {
      wroteInto = fd;
      blocking = java.util.Objects.requireNonNull(Sockets.get()).blocking(fd);
      int end = failAfterHalf == null ? bytes.length : bytes.length / 2;
      try (var arena = Arena.ofConfined()) {
        var seg = arena.allocate(end);
        MemorySegment.copy(bytes, 0, seg, ValueLayout.JAVA_BYTE, 0, end);
        long off = 0;
        while (off < end) {
          long n = (long) WRITE.invokeExact(fd, seg.asSlice(off), (long) (end - off));
          if (n < 0) {
            throw new IOException("write failed");
          }
          off += n;
        }
      } catch (IOException e) {
        throw e;
      } catch (Throwable t) {
        throw new IllegalStateException(t);
      }
      if (failAfterHalf != null) {
        throw failAfterHalf;
      }
    }

    @Override
    public void progress(long bytes) {
      progress.set(bytes);
    }
  }

  private static RpcServer.Ticket ticket(long seed) {
    var b = new byte[32];
    new Random(seed).nextBytes(b);
    return new RpcServer.Ticket(HexFormat.of().formatHex(b));
  }

  private static byte[] random(int n) {
    var b = new byte[n];
    new Random(n).nextBytes(b);
    return b;
  }

  @Test
  void aDirectBodyGoesOnItsOwnConnectionAndArrivesByteForByte() throws Exception {
    var bytes = random(8 << 20);
    var body = new Writer(bytes, null);
    var sink = alice(RpcOptions.defaults()).proxy("sink", SinkApi.class);

    assertThat(sink.take(body)).isEqualTo(digest(bytes));

    assertThat(body.wroteInto).as("the body wrote into a socket itself").isGreaterThan(2);
    assertThat(body.blocking).as("a child writing into it waits for room, never EAGAIN").isTrue();
    assertThat(server.directCalls()).isEqualTo(1);
    assertThat(sawDirect).isTrue();
    assertThat(sawReceived).as("the kernel counted the bytes").isEqualTo(8 << 20);
    assertThat(body.progress.get()).as("progress told at the end").isEqualTo(8 << 20);
    // the next call on the same connection is an ordinary one again
    assertThat(sink.take(new ByteArrayInputStream(bytes))).isEqualTo(digest(bytes));
    assertThat(sawDirect).isFalse();
    assertThat(server.directCalls()).isEqualTo(1);
  }

  @Test
  void aStreamResponseComesOnItsOwnConnectionWrittenByItsWriterOrCopied() throws Exception {
    var source = alice(RpcOptions.defaults()).proxy("source", SourceApi.class);
    for (boolean direct : new boolean[] {true, false}) {
      try (var in = source.give(new Ask(6 << 20, direct))) {
        assertThat(in).isInstanceOf(DirectStream.class);
        var d = (DirectStream) in;
        assertThat(d.peek(4)).isEqualTo(java.util.Arrays.copyOf(random(6 << 20), 4));
        var all = in.readAllBytes();
        assertThat(digest(all)).isEqualTo(digest(random(6 << 20)));
        assertThat(d.bytesReceived()).isEqualTo(6 << 20);
      }
      assertThat(sawCallerDirect).isTrue();
    }
    assertThat(server.directCalls()).isEqualTo(2);
    // the connection serves the next call: the response was finished
    var bytes = random(1 << 20);
    assertThat(
            alice(RpcOptions.defaults()).proxy("sink", SinkApi.class).take(new Writer(bytes, null)))
        .isEqualTo(digest(bytes));

    // the path off: a framed response, as before
    var off = alice(RpcOptions.defaults().withDirectData(false)).proxy("source", SourceApi.class);
    try (var in = off.give(new Ask(1 << 20, true))) {
      assertThat(in).isNotInstanceOf(DirectStream.class);
      assertThat(digest(in.readAllBytes())).isEqualTo(digest(random(1 << 20)));
    }
    assertThat(sawCallerDirect).isFalse();
  }

  @Test
  void aWriterThatFailsMidwayFailsTheCallAndTheServerNeverSeesACompleteBody() throws Exception {
    var bytes = random(4 << 20);
    var body = new Writer(bytes, new IOException("zfs send killed (status 137)"));
    var sink = alice(RpcOptions.defaults()).proxy("sink", SinkApi.class);

    assertThatThrownBy(() -> sink.take(body))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("zfs send killed");
    assertThat(server.directCalls()).isEqualTo(1);
    assertThat(sawDirect).isTrue();
    assertThat(taken).as("the endpoint read the end of the body only as a failure").isFalse();
    // the server goes on serving (the client hung up, as after a framed body's failure)
    var again = alice(RpcOptions.defaults()).proxy("sink", SinkApi.class);
    assertThat(again.take(new Writer(bytes, null))).isEqualTo(digest(bytes));
    assertThat(taken).isTrue();
  }

  /**
   * A server that refuses the call without reading the body closes the data connection; the writer
   * then fails (EPIPE): the caller gets the server's reason, not the writer's failure.
   */
  @Test
  void aRefusalBeforeTheBodyIsTheCallersErrorNotTheWritersBrokenPipe() throws Exception {
    var body = new Writer(random(32 << 20), null);
    assertThatThrownBy(() -> alice(RpcOptions.defaults()).proxy("sink", SinkApi.class).refuse(body))
        .isInstanceOf(RemoteException.class)
        .hasMessageContaining("zrepl#504");
    assertThat(server.directCalls()).isEqualTo(1);
  }

  @Test
  void withThePathOffOnEitherSideTheBodyIsFramedAsBefore() throws Exception {
    var bytes = random(1 << 20);
    var off = RpcOptions.defaults().withDirectData(false);
    assertThat(alice(off).proxy("sink", SinkApi.class).take(new Writer(bytes, null)))
        .isEqualTo(digest(bytes));
    assertThat(server.directCalls()).isZero();
    assertThat(sawDirect).isFalse();

    server = serverWith(off);
    var body = new Writer(bytes, null);
    assertThat(alice(RpcOptions.defaults()).proxy("sink", SinkApi.class).take(body))
        .isEqualTo(digest(bytes));
    assertThat(server.directCalls()).isZero();
    assertThat(body.wroteInto).as("never asked to write into a socket").isEqualTo(-1);
  }

  @Test
  void anotherClientsDataConnectionIsRefusedAndAUsedTicketIsWorthNothing() throws Exception {
    var ticket = ticket(1);
    // mallory opens a data connection with the ticket
    var mallory = SocketChannel.open();
    closeLater.add(mallory);
    mallory.bind(new InetSocketAddress("127.0.0.2", 0));
    mallory.connect(new InetSocketAddress("127.0.0.1", port));
    NetClient.presentTicket(mallory, ticket);

    var alice = alice(RpcOptions.defaults());
    assertThatThrownBy(() -> alice.call(RpcServer.DIRECT_ENDPOINT, ticket, null, void.class))
        .isInstanceOf(RemoteException.class)
        .hasMessageContaining("not yours");
    // mallory's connection was closed: the server answers nothing more on it
    mallory.configureBlocking(true);
    assertThat(mallory.read(java.nio.ByteBuffer.allocate(16))).isEqualTo(-1);

    // alice's own data connection with a ticket binds once; the same ticket again binds nothing
    var own = ticket(2);
    var data = SocketChannel.open(new InetSocketAddress("127.0.0.1", port));
    closeLater.add(data);
    NetClient.presentTicket(data, own);
    alice.call(RpcServer.DIRECT_ENDPOINT, own, null, void.class);
    assertThatThrownBy(() -> alice.call(RpcServer.DIRECT_ENDPOINT, own, null, void.class))
        .isInstanceOf(RemoteException.class)
        .hasMessageContaining("no data connection with this ticket");
    // and alice's direct calls still work
    var bytes = random(1 << 20);
    assertThat(alice.proxy("sink", SinkApi.class).take(new Writer(bytes, null)))
        .isEqualTo(digest(bytes));
    assertThat(server.directCalls()).isEqualTo(1);
  }

  /**
   * A data connection that no call claims is closed when its lifetime is over (not only when
   * another one registers after it), and one still waiting is closed with the server.
   */
  @Test
  void anUnclaimedDataConnectionIsClosedAtTheEndOfItsLifetimeAndWithTheServer() throws Exception {
    server.withTicketLifetime(Duration.ofMillis(300));
    var early = waitingDataConnection(ticket(3));
    assertThat(readsToTheEnd(early)).as("closed after its lifetime").isTrue();
    assertThat(server.waitingDataConnections()).isZero();

    server.withTicketLifetime(Duration.ofHours(1));
    var late = waitingDataConnection(ticket(4));
    server.close();
    assertThat(readsToTheEnd(late)).as("closed with the server").isTrue();
    assertThat(server.waitingDataConnections()).isZero();
  }

  /** Opens a data connection with {@code ticket} and waits until the server holds it. */
  private SocketChannel waitingDataConnection(RpcServer.Ticket ticket) throws Exception {
    int before = server.waitingDataConnections();
    var data = SocketChannel.open(new InetSocketAddress("127.0.0.1", port));
    closeLater.add(data);
    NetClient.presentTicket(data, ticket);
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (server.waitingDataConnections() == before && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(server.waitingDataConnections()).as("registered").isEqualTo(before + 1);
    return data;
  }

  /** Whether the server ends {@code data} within 10 s (false: still open then). */
  private static boolean readsToTheEnd(SocketChannel data) throws IOException {
    var socket = data.socket();
    socket.setSoTimeout(10_000);
    try {
      return socket.getInputStream().readAllBytes().length >= 0;
    } catch (java.net.SocketTimeoutException e) {
      return false;
    }
  }
}
