package dev.zrepl4j.rpc;

import dev.zrepl4j.rpc.frame.FrameWriter;
import dev.zrepl4j.rpc.frame.MessageInputStream;
import dev.zrepl4j.rpc.frame.MessageOutputStream;
import dev.zrepl4j.rpc.frame.ResetException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.reflect.Type;
import java.net.ProtocolException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.SocketChannel;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Semaphore;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A client over one connection.
 *
 * <p>Implementation notes: a semaphore admits one call at a time; a response stream keeps it until
 * the stream is finished. Before the first call the client says hello: a zrepl4j server answers and
 * both sides switch to protocol version 1 (trailers, request bodies, keep-alives); a seed server
 * answers "unregistered endpoint" twice (it reads the hello body as the next header, its desync
 * defect), and the client reads both answers and goes on in seed mode, byte for byte what a seed
 * client sends. While idle, a v1 client pings the server so neither side's timeouts fire and a dead
 * peer is noticed.
 *
 * <p>The seed server's desync defect (SEED-SPEC §1.8) strikes every call it refuses early
 * (unregistered endpoint, wrong DataType or Accept, undecodable JSON): it answers without reading
 * the request's JSON body, then reads that body as the next request header and answers it too. Left
 * alone, every later call would get the previous call's answer. So after such a refusal from a peer
 * that showed the defect in the hello, the client reads the second answer when it can predict it (a
 * JSON object without header keys, within the header limit: the seed answers "unregistered endpoint
 * " with an empty name) and checks it; in every other case (undecodable JSON, a body the seed would
 * read differently, or a seed-only client that cannot tell a seed server from a zrepl4j one) it
 * hangs up, so a later call fails loudly instead of getting another call's answer. Thread-safe.
 */
final class NetClient implements RpcClient {
  private static final Logger log = LoggerFactory.getLogger(NetClient.class);
  private static final String SOFTWARE = "zrepl4j-rpc";
  private static final byte[] OK_TRAILER = Header.ok(DataType.UNSET).encode();

  private final Conn c;
  private final RpcOptions options;
  // opens another connection to the same server, for the direct data path; null: none
  private final @Nullable DataDialer dataDialer;
  private final @Nullable Sockets sockets;
  private final Semaphore busy = new Semaphore(1);
  private volatile boolean closed;
  private volatile Peer peer;

  /** What the hello told about the server. */
  private enum Peer {
    /** No hello (a seed-only client): a seed server or a zrepl4j one in seed mode. */
    UNKNOWN,
    /** A zrepl4j server: it answers every request once. */
    ZREPL4J,
    /** A seed server: it answers twice after an early refusal (its desync defect). */
    SEED
  }

  /** Opens another connection to the same server (a data connection), blocking. */
  @FunctionalInterface
  interface DataDialer {
    SocketChannel dial() throws IOException;
  }

  private NetClient(Transport t, RpcOptions options, @Nullable DataDialer dataDialer) {
    this.options = options;
    this.c = new Conn(t, options, "client", this::idle);
    this.peer = Peer.UNKNOWN;
    this.sockets = dataDialer == null || !options.directData() ? null : Sockets.get();
    this.dataDialer = sockets == null ? null : dataDialer;
  }

  static NetClient open(Transport t, RpcOptions options) throws IOException {
    return open(t, options, null);
  }

  /**
   * @param dataDialer opens data connections to the same server, for the direct data path (plain
   *     TCP); null: the client does not offer the path
   */
  static NetClient open(Transport t, RpcOptions options, @Nullable DataDialer dataDialer)
      throws IOException {
    var n = new NetClient(t, options, dataDialer);
    n.c.start();
    try {
      if (!options.seedOnly()) {
        n.hello();
      }
    } catch (IOException | RuntimeException e) {
      n.c.close();
      throw e;
    }
    return n;
  }

  @Override
  public boolean isOpen() {
    return !closed && c.isOpen();
  }

  @Override
  public boolean extensions() {
    return c.v1();
  }

  private void hello() throws IOException {
    busy.acquireUninterruptibly();
    try {
      var reply = (Hello) exchange(Hello.ENDPOINT, ownHello(), null, Hello.class, true);
      peer = Peer.ZREPL4J;
      if (reply != null && reply.version() >= 1) {
        c.adoptPeerTimings(reply);
        c.enableV1();
        if (dataDialer != null && reply.offers(Hello.DIRECT_DATA)) {
          c.enableDirectData();
        }
        log.debug("{}: protocol version 1 with {}", c.transport.remote(), reply.software());
      }
    } catch (RemoteException e) {
      if (!e.getMessage().startsWith("unregistered endpoint")) {
        throw e;
      }
      // a seed server: it answers a second time, for our hello body read as a header
      Header second = Json.readHeader(c.reader.readHeaderMessage());
      if (second.status() == Status.OK) {
        throw new ProtocolException("unexpected second answer to hello from a seed peer");
      }
      peer = Peer.SEED;
      log.debug("{}: seed protocol peer", c.transport.remote());
    } finally {
      busy.release();
    }
  }

  /** The hello (and ping) this client sends: its version and the timings it uses now. */
  private Hello ownHello() {
    return new Hello(
        Hello.VERSION,
        SOFTWARE,
        0,
        c.keepAlive().toMillis(),
        c.readTimeout().toMillis(),
        dataDialer == null ? null : List.of(Hello.DIRECT_DATA));
  }

  /** Keeps an idle v1 connection alive (called by the monitor thread). */
  private void idle() {
    if (!c.v1() || closed || !busy.tryAcquire()) {
      return;
    }
    try {
      exchange(Hello.ENDPOINT, ownHello(), null, Hello.class, true);
    } catch (IOException e) {
      log.debug("{}: ping failed: {}", c.transport.remote(), e.toString());
    } finally {
      busy.release();
    }
  }

  @Override
  public @Nullable Object call(
      String endpoint, @Nullable Object request, @Nullable InputStream body, Type responseType)
      throws IOException {
    if (endpoint.equals(Hello.ENDPOINT)) {
      throw new IllegalArgumentException(endpoint + " is reserved");
    }
    busy.acquireUninterruptibly();
    boolean handedOver = false;
    try {
      Object r = exchange(endpoint, request, body, responseType, false);
      handedOver = r instanceof ResponseStream;
      return r;
    } finally {
      if (!handedOver) {
        busy.release();
      }
    }
  }

  /** One request/response; the caller holds {@link #busy}. */
  private @Nullable Object exchange(
      String endpoint,
      @Nullable Object request,
      @Nullable InputStream body,
      Type responseType,
      boolean hello)
      throws IOException {
    assert hello == endpoint.equals(Hello.ENDPOINT);
    if (!isOpen()) {
      throw new IOException("connection to " + c.transport.remote() + " is closed");
    }
    if (body != null && !c.v1()) {
      throw new ProtocolException(
          "the peer speaks only the seed protocol: it cannot receive request bodies");
    }
    DataType in =
        body == null ? DataType.JSON : request == null ? DataType.OCTETS : DataType.JSON_AND_OCTETS;
    DataType accept = responseType == InputStream.class ? DataType.OCTETS : DataType.JSON;
    // the direct data path for this call's body, if both sides can take it (else null: framed)
    Data data = body instanceof DirectSource d && c.directData() ? openData(d) : null;
    // and for a stream response: its bytes come on a data connection (the server's writer writes
    // into it where it can), the verdict in the framed response's trailer
    Link response =
        accept == DataType.OCTETS && body == null && !hello && c.directData() ? openLink() : null;
    c.callActive(true);
    boolean handedOver = false;
    try {
      c.writer.headerMessage(Header.request(endpoint, in, accept).encode());
      byte[] json = null;
      if (in != DataType.OCTETS) {
        json = Json.write(request);
        c.writer.dataMessage(json, 0, json.length);
      }
      if (body != null) {
        // the server starts on the call (a receiver prepares) while the body's source starts
        c.writer.flush();
      }
      IOException localFailure =
          body == null ? null : data != null ? data.send(c.writer) : sendBody(body);
      c.writer.flush();
      // a hello is answered at once by any peer (a seed server too, with an error): a peer silent
      // to it is not computing anything, and a reconnect must not hang on it
      c.watch(c.v1() || hello ? Conn.Watch.READ : Conn.Watch.NONE);
      Header h = Json.readHeader(c.reader.readHeaderMessage());
      if (h.status() != Status.OK) {
        if (h.status() == Status.NONE) {
          throw new ProtocolException("response header without a status");
        }
        RemoteException rx = h.toException();
        if (!c.v1() && !hello && earlyRefusal(h)) {
          afterSeedRefusal(endpoint, json, rx);
        }
        if (localFailure != null
            && data != null
            && !(localFailure instanceof SocketTimeoutException)) {
          // on the direct path the server's refusal is what ended the writer (its zfs send dies of
          // SIGPIPE when the server closes the data connection): its reason is the call's
          rx.addSuppressed(localFailure);
          throw rx;
        }
        if (localFailure != null) {
          localFailure.addSuppressed(rx);
          throw localFailure;
        }
        throw rx;
      }
      if (localFailure != null) {
        throw localFailure;
      }
      if (data != null) {
        data.finished(); // the server's child has read every byte: all acknowledged now
      }
      if (h.dataType() != accept) {
        throw new ProtocolException(
            "response of "
                + endpoint
                + " has DataType "
                + h.dataType().wire()
                + ", asked for "
                + accept.wire());
      }
      if (accept == DataType.JSON) {
        byte[] reply = c.reader.readDataMessage(options.maxJsonBody());
        if (responseType == void.class || responseType == Void.class) {
          return null;
        }
        try {
          return Json.read(reply, Json.type(responseType));
        } catch (IOException | RuntimeException e) {
          throw new ProtocolException(
              "cannot decode the response of " + endpoint + ": " + e.getMessage());
        }
      }
      var s = new ResponseStream(c.reader.dataStream(c.v1() ? RpcServer::checkTrailer : null));
      handedOver = true;
      if (response != null && sockets != null) {
        var d =
            new DirectStream(
                    response.channel(), response.fd(), 0, s, sockets, responseHeadTimeout())
                .closingVerdict();
        response = null; // the stream owns it now
        return d;
      }
      return s;
    } catch (RemoteException e) {
      throw e; // the exchange ended cleanly; the connection stays usable
    } catch (IOException e) {
      c.hangUp();
      throw c.fail(e);
    } catch (RuntimeException e) {
      c.hangUp();
      throw e;
    } finally {
      if (data != null) {
        data.close();
      }
      if (response != null) {
        response.close();
      }
      if (!handedOver) {
        c.watch(Conn.Watch.NONE);
        c.callActive(false);
      }
    }
  }

  /**
   * Opens a data connection for a call whose body can go direct, and binds it to the call
   * (docs/DIRECT-PATH.md §2). Null where the body or the server says no: the call then sends its
   * body framed.
   */
  private @Nullable Data openData(DirectSource body) throws IOException {
    if (dataDialer == null || !body.direct()) {
      return null;
    }
    var link = openLink();
    return link == null
        ? null
        : new Data(link.channel(), link.fd(), link.sockets(), body, link.prologue());
  }

  /**
   * Opens a data connection and binds it to the next call: the server takes it only from this
   * client, with this ticket. Null where it cannot be made or the server says no.
   */
  private @Nullable Link openLink() throws IOException {
    var dialer = dataDialer;
    var s = sockets;
    if (dialer == null || s == null) {
      return null;
    }
    var ch = dialer.dial();
    try {
      int fd = s.descriptorOf(ch);
      if (fd < 0) {
        log.debug("{}: data connection's descriptor not found: framed", c.transport.remote());
        ch.close();
        return null;
      }
      byte[] random = new byte[32];
      TICKETS.nextBytes(random);
      var ticket = new RpcServer.Ticket(HexFormat.of().formatHex(random));
      long prologue = presentTicket(ch, ticket);
      try {
        exchange(RpcServer.DIRECT_ENDPOINT, ticket, null, void.class, false);
      } catch (RemoteException e) {
        log.debug(
            "{}: direct data path refused ({}): framed", c.transport.remote(), e.getMessage());
        ch.close();
        return null;
      }
      s.makeBlocking(fd);
      return new Link(ch, fd, s, prologue);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  /** A data connection bound to the next call. */
  private record Link(SocketChannel channel, int fd, Sockets sockets, long prologue) {
    void close() {
      try {
        channel.close();
      } catch (IOException e) {
        log.debug("closing a data connection: {}", e.toString());
      }
    }
  }

  /** How long a response's head may take to arrive on its data connection. */
  private Duration responseHeadTimeout() {
    var t = c.readTimeout();
    return t.isZero() ? Duration.ofSeconds(60) : t;
  }

  private static final SecureRandom TICKETS = new SecureRandom();

  /**
   * Sends a data connection's one request: its ticket (docs/DIRECT-PATH.md §2).
   *
   * @return the bytes written (the stream's bytes follow them)
   */
  static long presentTicket(SocketChannel ch, RpcServer.Ticket ticket) throws IOException {
    var framed = new java.io.ByteArrayOutputStream(256);
    var w = new FrameWriter(framed, 16 * 1024);
    w.headerMessage(Header.request(RpcServer.DATA_ENDPOINT, DataType.JSON, DataType.JSON).encode());
    byte[] json = Json.write(ticket);
    w.dataMessage(json, 0, json.length);
    w.flush();
    var bytes = java.nio.ByteBuffer.wrap(framed.toByteArray());
    while (bytes.hasRemaining()) {
      ch.write(bytes);
    }
    return bytes.capacity();
  }

  /** A call's data connection: its body written into it by the body's own writer. */
  private final class Data {
    private final SocketChannel channel;
    private final int fd;
    private final Sockets sockets;
    private final DirectSource body;
    private final long prologue;

    Data(SocketChannel channel, int fd, Sockets sockets, DirectSource body, long prologue) {
      this.channel = channel;
      this.fd = fd;
      this.sockets = sockets;
      this.body = body;
      this.prologue = prologue;
    }

    // the end of the stream was sent: the kernel counts its FIN as one byte acknowledged
    private volatile boolean ended;

    /**
     * The body's bytes the server acknowledged so far: the kernel's count less the connection's SYN
     * and FIN (one each in its sequence space) and the ticket before the body.
     */
    private long acked() {
      return Math.max(0, sockets.bytesAcked(fd) - 1 - prologue - (ended ? 1 : 0));
    }

    /** How long {@link #finished} waits for the server's last acknowledgment. */
    private static final Duration LAST_ACK_WAIT = Duration.ofSeconds(1);

    /**
     * Runs the body's writer into the data connection, then sends the verdict on the call's own
     * connection: an empty body with an OK trailer once the writer succeeded, an error trailer
     * otherwise (the data connection is then closed before: the server's child sees a stream cut
     * short).
     *
     * @return the writer's failure, or null
     */
    @Nullable IOException send(FrameWriter writer) throws IOException {
      MessageOutputStream mos = writer.dataStream(OK_TRAILER);
      var stalled = new java.util.concurrent.atomic.AtomicBoolean();
      Duration timeout = c.readTimeout();
      var watch =
          Thread.ofVirtual().name("rpc-direct-progress").start(() -> watch(timeout, stalled));
      try {
        body.writeInto(fd, this::acked);
      } catch (IOException e) {
        watch.interrupt();
        // the server's child sees the stream end early, even if another process (zfs-fuse's
        // daemon, which writes the stream for its zfs send) still holds the socket
        sockets.shutdownBoth(fd);
        close();
        IOException failure = e;
        if (stalled.get()) {
          failure =
              new SocketTimeoutException(
                  "the data connection to "
                      + c.transport.remote()
                      + " took no byte for "
                      + timeout
                      + " ("
                      + e.getMessage()
                      + ")");
          failure.initCause(e);
        }
        mos.abort(
            Header.error(
                    ErrorCode.CANCELLED,
                    "the client's request body failed: " + failure.getMessage(),
                    true)
                .encode());
        return failure;
      } finally {
        watch.interrupt();
        try {
          watch.join(); // no progress told after the end's
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      sockets.shutdownOutput(fd); // the server's child reads the end of the stream
      ended = true;
      mos.close();
      return null;
    }

    /**
     * Tells the body its progress four times a second (as often within the read timeout if that is
     * shorter than a second); a data connection whose bytes wait for the peer and none of which is
     * acknowledged for the read timeout is stalled: it is shut down, so the writer fails, and the
     * failure is a timeout (retried, as a stalled framed call is).
     */
    private void watch(Duration timeout, java.util.concurrent.atomic.AtomicBoolean stalled) {
      long tick = timeout.isZero() ? 250 : Math.clamp(timeout.toMillis() / 4, 20, 250);
      long last = -1;
      long since = System.nanoTime();
      while (!Thread.currentThread().isInterrupted()) {
        try {
          Thread.sleep(tick);
        } catch (InterruptedException e) {
          return;
        }
        long acked = acked();
        long now = System.nanoTime();
        if (acked != last) {
          last = acked;
          since = now;
          body.progress(acked);
        } else if (!timeout.isZero() && now - since > timeout.toNanos() && sockets.waiting(fd)) {
          stalled.set(true);
          sockets.shutdownBoth(fd);
          return;
        }
      }
    }

    /**
     * Tells the body how many bytes left, once the server has them all: once nothing sent waits for
     * its acknowledgment (the server's kernel may hold back its last one, a delayed ACK of up to
     * some 40 ms, and the count is then short by the bytes it acknowledges; found by {@code
     * bench/run --smoke bandwidth}: 16,761,447 of 16,793,815 bytes told), for at most {@link
     * #LAST_ACK_WAIT}.
     */
    void finished() {
      long deadline = System.nanoTime() + LAST_ACK_WAIT.toNanos();
      while (sockets.waiting(fd) && System.nanoTime() < deadline) {
        try {
          Thread.sleep(1);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
      body.progress(acked());
    }

    void close() {
      try {
        channel.close();
      } catch (IOException e) {
        log.debug("closing a data connection: {}", e.toString());
      }
    }
  }

  /** A refusal that a seed server sends before reading the request's JSON body (SEED-SPEC §1.6). */
  private static boolean earlyRefusal(Header h) {
    String m = h.errorMessage();
    return h.status() == Status.REQUEST_ERROR
        && (m.startsWith("unregistered endpoint ")
            || m.startsWith("wrong DataType for endpoint ")
            || m.startsWith("wrong Accept for endpoint ")
            || m.startsWith("cannot decode marshaled JSON"));
  }

  /**
   * Keeps a seed-protocol connection in step after an early refusal: reads and checks the seed's
   * second answer when it is certain to come, else hangs up. Returns normally when the connection
   * is in step again or closed; the caller then throws {@code refusal}.
   *
   * @throws IOException if the second answer is not the one the seed sends (connection closed)
   */
  private void afterSeedRefusal(String endpoint, byte @Nullable [] json, RemoteException refusal)
      throws IOException {
    boolean predictable =
        peer == Peer.SEED
            && !refusal.getMessage().startsWith("cannot decode marshaled JSON")
            && json != null
            && Json.readsAsEmptyHeader(json);
    if (peer == Peer.ZREPL4J) {
      return; // answers once, also in seed mode
    }
    if (!predictable) {
      log.debug(
          "{}: {} refused by a {} peer ({}); hanging up: the seed protocol is out of step now",
          c.transport.remote(),
          endpoint,
          peer == Peer.SEED ? "seed" : "seed-protocol",
          refusal.getMessage());
      c.hangUp();
      return;
    }
    // the seed reads our JSON body as a header with an empty endpoint name and refuses that too
    Header second = Json.readHeader(c.reader.readHeaderMessage());
    if (second.status() != Status.REQUEST_ERROR
        || !second.errorMessage().equals("unregistered endpoint ")) {
      throw new ProtocolException(
          "seed peer: expected its second answer 'unregistered endpoint ' after refusing "
              + endpoint
              + ", got status "
              + second.status().wire()
              + " '"
              + second.errorMessage()
              + "'");
    }
    log.debug(
        "{}: read the seed's second answer after refusing {}", c.transport.remote(), endpoint);
  }

  /**
   * Streams a request body; stops early (with an error trailer) when the server already answered.
   *
   * @return the body source's own failure, or null
   */
  private @Nullable IOException sendBody(InputStream body) throws IOException {
    MessageOutputStream mos = c.writer.dataStream(OK_TRAILER);
    int size = Math.max(64 * 1024, options.bufferSize());
    if (body instanceof ReadableByteChannel && c.transport.channel() != null) {
      // a channel source (zfs send's pipe) into the socket channel: a direct buffer, no heap copy
      try (var arena = Arena.ofConfined()) {
        return sendBody(mos, body, arena.allocate(size).asByteBuffer());
      }
    }
    return sendBody(mos, body, ByteBuffer.allocate(size));
  }

  private @Nullable IOException sendBody(MessageOutputStream mos, InputStream body, ByteBuffer buf)
      throws IOException {
    while (true) {
      if (c.reader.inputAvailable() && c.reader.frameAvailable()) {
        mos.abort(
            Header.error(ErrorCode.CANCELLED, "client stopped sending: the server answered", true)
                .encode());
        return null;
      }
      int n;
      try {
        n = ByteChannels.read(body, buf.clear());
      } catch (IOException e) {
        mos.abort(
            Header.error(
                    ErrorCode.CANCELLED,
                    "the client's request body failed: " + e.getMessage(),
                    true)
                .encode());
        return e;
      }
      if (n < 0) {
        mos.close();
        return null;
      }
      mos.write(buf.flip());
    }
  }

  @FunctionalInterface
  private interface Read {
    int read() throws IOException;
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    c.hangUp();
  }

  /**
   * The octet response of a call; releases the connection when finished or closed. Also a channel:
   * read into a direct buffer, large payloads come straight from a socket channel.
   */
  private final class ResponseStream extends InputStream implements ReadableByteChannel {
    private final MessageInputStream in;
    private boolean done;

    ResponseStream(MessageInputStream in) {
      this.in = in;
    }

    @Override
    public int read() throws IOException {
      return ByteChannels.readByte(this);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      return read(() -> in.read(b, off, len));
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
      return read(() -> in.read(dst));
    }

    @Override
    public boolean isOpen() {
      return !done;
    }

    private int read(Read r) throws IOException {
      if (done) {
        if (in.isComplete()) {
          return -1;
        }
        throw new IOException("response stream closed");
      }
      try {
        int n = r.read();
        if (n < 0) {
          finish(false);
        }
        return n;
      } catch (RemoteException e) {
        finish(false); // an error trailer: the message ended cleanly
        throw e;
      } catch (ResetException e) {
        finish(true);
        throw new RemoteException(
            ErrorCode.UNKNOWN, "the server aborted the stream (reset frame)", e);
      } catch (IOException e) {
        finish(true);
        throw c.fail(e);
      }
    }

    @Override
    public long transferTo(OutputStream out) throws IOException {
      byte[] b = new byte[Math.max(64 * 1024, options.bufferSize())];
      long total = 0;
      int n;
      while ((n = read(b, 0, b.length)) >= 0) {
        out.write(b, 0, n);
        total += n;
      }
      return total;
    }

    @Override
    public void close() {
      if (!done) {
        finish(!in.isComplete());
      }
    }

    private void finish(boolean hangUp) {
      if (done) {
        return;
      }
      done = true;
      if (hangUp) {
        c.hangUp();
      }
      c.watch(Conn.Watch.NONE);
      c.callActive(false);
      busy.release();
    }
  }
}
