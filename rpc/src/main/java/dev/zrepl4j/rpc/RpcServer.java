package dev.zrepl4j.rpc;

import dev.zrepl4j.rpc.frame.FrameReader;
import dev.zrepl4j.rpc.frame.Limits;
import dev.zrepl4j.rpc.frame.MessageInputStream;
import dev.zrepl4j.rpc.frame.MessageOutputStream;
import dev.zrepl4j.rpc.frame.ResetException;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.reflect.Type;
import java.net.InetSocketAddress;
import java.net.ProtocolException;
import java.net.SocketAddress;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves registered endpoints over any {@link Transport}, and locally.
 *
 * <p>Each connection is served by one platform thread, request after request (lock-step, as in the
 * seed): read the header and the whole request, answer, read the next header. Platform, not
 * virtual: a connection spends its life in blocking socket reads of large streams, and a virtual
 * thread blocked in a socket read is parked and woken by the JDK's poller thread, one round trip
 * (and a carrier switch) per read; a platform thread blocks in the read itself. Commit acd7e05
 * (2026-11-26) made the switch with the direct-buffer streaming work for that reason; the bench's
 * own threads are platform threads by default for the same reason ({@code RpcBench}). Threads that
 * mostly wait (the accept loops, each connection's monitor, TLS and ssh watchdogs) are virtual.
 * Every request is read to its end before the next header is read, also when it is refused, so an
 * error never desynchronises the stream (the seed's defect). A connection whose bytes break the
 * framing is answered with an RST and closed; the server goes on serving its other connections.
 *
 * <p>This class is thread-safe.
 */
public final class RpcServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RpcServer.class);
  private static final String SOFTWARE = "zrepl4j-rpc";

  private final RpcOptions options;
  private final Endpoints endpoints = new Endpoints();
  private final Set<Conn> connections = ConcurrentHashMap.newKeySet();
  private final Set<AutoCloseable> listeners = ConcurrentHashMap.newKeySet();
  private final Semaphore connectionSlots;
  // connections being served per client identity
  private final Map<String, Integer> perClient = new ConcurrentHashMap<>();
  private volatile boolean closed;
  private volatile @Nullable Consumer<Caller> connectionHook;
  // data connections of the direct data path by their ticket, until their call claims them
  private final Map<String, DataConnection> tickets = new ConcurrentHashMap<>();
  private final @Nullable Sockets sockets = Sockets.get();
  private final java.util.concurrent.atomic.AtomicLong directCalls =
      new java.util.concurrent.atomic.AtomicLong();

  // how long an unclaimed data connection is kept (TICKET_LIFETIME; shorter in tests)
  private volatile Duration ticketLifetime = TICKET_LIFETIME;

  /** How many calls got their body on the direct data path (docs/DIRECT-PATH.md). */
  public long directCalls() {
    return directCalls.get();
  }

  /** How many data connections wait for their calls (for tests). */
  int waitingDataConnections() {
    return tickets.size();
  }

  /** Keeps an unclaimed data connection for {@code lifetime} instead (for tests). */
  RpcServer withTicketLifetime(Duration lifetime) {
    ticketLifetime = lifetime;
    return this;
  }

  /** The first request of a data connection: its ticket (docs/DIRECT-PATH.md §2). */
  static final String DATA_ENDPOINT = "zrepl4j.Data";

  /** Binds the data connection with the request's ticket to the caller's next call. */
  static final String DIRECT_ENDPOINT = "zrepl4j.Direct";

  /** How long a data connection waits for its call, and a call for its data connection. */
  static final Duration TICKET_LIFETIME = Duration.ofSeconds(30);

  static final Duration TICKET_WAIT = Duration.ofSeconds(5);

  /** Most data connections waiting for their calls at once. */
  static final int MAX_WAITING_DATA = 64;

  public RpcServer(RpcOptions options) {
    this.options = options;
    this.connectionSlots = new Semaphore(options.maxConnections());
  }

  /** Registers every public method of {@code target} under its own name (or {@link RpcName}). */
  public RpcServer register(Object target) {
    endpoints.register("", target);
    return this;
  }

  /**
   * Registers every public method of {@code target} as {@code prefix.method}.
   *
   * @throws IllegalArgumentException for a method signature that is not an endpoint, naming it
   */
  public RpcServer register(String prefix, Object target) {
    if (prefix.isEmpty() || prefix.contains(".")) {
      throw new IllegalArgumentException("prefix must be a non-empty name without '.': " + prefix);
    }
    endpoints.register(prefix, target);
    return this;
  }

  /**
   * Calls {@code hook} with the caller of every connection (and in-process client) from now on,
   * before its first request; a hook that throws is logged and ignored. One hook per server.
   */
  public RpcServer onConnection(Consumer<Caller> hook) {
    this.connectionHook = hook;
    return this;
  }

  private void connected(Caller caller) {
    var h = connectionHook;
    if (h != null) {
      try {
        h.accept(caller);
      } catch (RuntimeException e) {
        log.warn("{}: connection hook failed", caller, e);
      }
    }
  }

  /** A client that calls this server's endpoints in-process, without serialization. */
  public RpcClient local(Caller caller) {
    connected(caller);
    return new LocalClient(endpoints, caller);
  }

  /**
   * Serves one connection until the peer closes it or breaks the protocol. Blocks. Closes the
   * transport before returning. Peer errors are logged, not thrown. A connection of a client that
   * holds {@link RpcOptions#maxConnectionsPerClient()} connections already is closed at once
   * (logged at WARN); a connection that sends no request within the read timeout is closed, one
   * that made a request within the idle timeout.
   */
  public void serve(Transport transport, Caller caller) {
    if (closed) {
      closeQuietly(transport);
      return;
    }
    String id = caller.identity();
    int held = perClient.merge(id, 1, Integer::sum);
    try {
      if (held > options.maxConnectionsPerClient()) {
        log.warn(
            "{}: refusing connection from {}: the client holds {} connections already (at most {}"
                + " per client)",
            caller,
            transport.remote(),
            held - 1,
            options.maxConnectionsPerClient());
        closeQuietly(transport);
        return;
      }
      serveCounted(transport, caller);
    } finally {
      perClient.computeIfPresent(id, (k, n) -> n <= 1 ? null : n - 1);
    }
  }

  private void serveCounted(Transport transport, Caller caller) {
    connected(caller);
    var c = new Conn(transport, options, "server-" + caller.identity(), () -> {});
    connections.add(c);
    c.start();
    boolean detached = false;
    try {
      log.debug("{}: serving {}", caller, transport.remote());
      boolean first = true;
      while (c.isOpen()) {
        c.callActive(false);
        // a new connection must speak within the read timeout (clients send their hello at
        // once); only one that has made a request may stay idle for the idle timeout
        c.watch(first ? Conn.Watch.READ : Conn.Watch.IDLE);
        first = false;
        byte[] hb;
        try {
          hb = c.reader.readHeaderMessage();
        } catch (EOFException | ResetException e) {
          log.debug("{}: peer closed the connection ({})", caller, e.getMessage());
          break;
        }
        c.watch(Conn.Watch.READ);
        c.callActive(true);
        if (!serveRequest(c, hb, caller)) {
          detached = true; // a data connection now, waiting for its call
          break;
        }
      }
    } catch (IOException e) {
      IOException f = c.fail(e);
      if (c.isOpen() && (f instanceof ProtocolException || f instanceof SocketTimeoutException)) {
        log.warn("{}: closing connection: {}", caller, f.getMessage());
      } else {
        log.debug("{}: connection ended: {}", caller, f.toString());
      }
      c.hangUp();
    } finally {
      if (detached) {
        c.detach();
      } else {
        c.close();
      }
      connections.remove(c);
    }
  }

  /**
   * Serves one request.
   *
   * @return false if the connection became a data connection (not to be read or closed here)
   */
  private boolean serveRequest(Conn c, byte[] headerBytes, Caller caller) throws IOException {
    final Header h;
    try {
      h = Json.readHeader(headerBytes);
    } catch (ProtocolException e) {
      // the request's framing is unknown: answer, then close
      respondError(c, ErrorCode.INVALID_ARGUMENT, "invalid request header: " + e.getMessage());
      throw e;
    }
    if (h.dataType().hasOctets() && !c.v1()) {
      respondError(
          c,
          ErrorCode.INVALID_ARGUMENT,
          "request bodies need protocol version 1 (" + Hello.ENDPOINT + " first)");
      throw new ProtocolException("octet request body from a peer without protocol version 1");
    }
    if (headerBytes.length == Limits.MAX_HEADER_MESSAGE) {
      c.reader.skipSeedEmptyHeaderFrame(); // the seed writes an empty final frame after it
    }
    if (h.endpoint().equals(DATA_ENDPOINT)) {
      return !acceptData(c, h, caller);
    }
    byte[] json = null;
    if (h.dataType() != DataType.OCTETS) {
      json = c.reader.readDataMessage(options.maxJsonBody());
    }
    MessageInputStream body = null;
    if (h.dataType().hasOctets()) {
      body = c.reader.dataStream(RpcServer::checkTrailer);
    }
    var direct = h.endpoint().equals(Hello.ENDPOINT) ? null : c.takeDirect();
    if (direct != null && h.endpoint().equals(DIRECT_ENDPOINT)) {
      direct.close(); // bound and not used by a call: a new binding replaces it
      direct = null;
    }
    try {
      InputStream in = body;
      Caller who = caller;
      if (direct != null) {
        who = caller.withDirectData();
        directCalls.incrementAndGet();
        if (body != null) {
          in = direct.stream(body, c.readTimeout());
        }
      }
      dispatch(c, h, json, in, who, body == null ? direct : null);
    } finally {
      if (direct != null) {
        direct.close(); // used by this call or not, it served its one call
      }
      if (body != null && !body.isComplete()) {
        drain(body);
      }
    }
    return true;
  }

  /**
   * A data connection's ticket: registered for the call that presents it on its own connection.
   * Nothing is answered on success (the connection carries only the stream's bytes from now on); a
   * refusal is answered and the connection closed.
   *
   * @return whether the connection became a data connection
   */
  private boolean acceptData(Conn c, Header h, Caller caller) throws IOException {
    if (h.dataType() != DataType.JSON) {
      respondError(c, ErrorCode.INVALID_ARGUMENT, "a data connection's request is a JSON ticket");
      throw new ProtocolException("data connection without a JSON ticket");
    }
    byte[] json = c.reader.readDataMessage(1024);
    var s = sockets;
    var ch = c.transport.channel();
    String ticket = ticket(json);
    int fd = s == null || ch == null || !options.directData() ? -1 : s.descriptorOf(ch);
    if (ticket == null || fd < 0 || s == null || ch == null) {
      respondError(
          c,
          ErrorCode.FAILED_PRECONDITION,
          ticket == null ? "invalid data ticket" : "no direct data path on this connection");
      throw new ProtocolException("data connection refused");
    }
    expireTickets();
    if (tickets.size() >= MAX_WAITING_DATA) {
      respondError(c, ErrorCode.UNAVAILABLE, "too many data connections waiting");
      throw new ProtocolException("too many data connections waiting");
    }
    s.makeBlocking(fd);
    var data = new DataConnection(ch, fd, caller.identity(), s);
    var other = tickets.putIfAbsent(ticket, data);
    if (other != null) {
      // a ticket presented twice: neither connection gets it (one of them is not its client's)
      tickets.remove(ticket, other);
      other.close();
      log.warn("{}: data ticket presented twice; both data connections closed", caller);
      data.close();
      return true;
    }
    log.debug("{}: data connection {} waiting for its call", caller, c.transport.remote());
    if (closed && tickets.remove(ticket, data)) {
      data.close(); // the server closed while it registered
      return true;
    }
    // closed when its lifetime is over if no call claimed it (not only at the next registration)
    var lifetime = ticketLifetime;
    Thread.ofVirtual()
        .name("rpc-data-expiry")
        .start(
            () -> {
              try {
                Thread.sleep(lifetime);
              } catch (InterruptedException e) {
                return;
              }
              expireTickets();
            });
    return true;
  }

  private void expireTickets() {
    long now = System.nanoTime();
    var lifetime = ticketLifetime;
    for (var e : tickets.entrySet()) {
      if (now - e.getValue().since >= lifetime.toNanos()
          && tickets.remove(e.getKey(), e.getValue())) {
        log.debug(
            "data connection of {} not claimed in {}: closed", e.getValue().identity, lifetime);
        e.getValue().close();
      }
    }
  }

  /** The ticket of a data or direct request: 64 hex digits; null if it is not one. */
  private static @Nullable String ticket(byte @Nullable [] json) {
    Ticket t;
    try {
      t = (Ticket) Json.read(json == null ? new byte[0] : json, Json.type(Ticket.class));
    } catch (IOException | RuntimeException e) {
      return null;
    }
    if (t == null || t.ticket() == null || !t.ticket().matches("[0-9a-f]{64}")) {
      return null;
    }
    return t.ticket();
  }

  /**
   * {@code zrepl4j.Direct}: binds the data connection that presented the ticket to the caller's
   * next call; only if it is the same client's (its identity) and the ticket is unused. The ticket
   * is burnt either way.
   */
  private void bindDirect(Conn c, byte @Nullable [] json, Caller caller) throws IOException {
    if (!c.v1() || !c.directData()) {
      respondError(c, ErrorCode.FAILED_PRECONDITION, "the direct data path was not negotiated");
      return;
    }
    String ticket = ticket(json);
    if (ticket == null) {
      respondError(c, ErrorCode.INVALID_ARGUMENT, "invalid data ticket");
      return;
    }
    long deadline = System.nanoTime() + TICKET_WAIT.toNanos();
    DataConnection data;
    long pause = 1;
    while ((data = tickets.remove(ticket)) == null && System.nanoTime() < deadline) {
      try {
        Thread.sleep(pause); // the data connection may still be on its way
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("waiting for a data connection");
      }
      pause = Math.min(10, pause * 2);
    }
    if (data == null) {
      respondError(c, ErrorCode.FAILED_PRECONDITION, "no data connection with this ticket");
      return;
    }
    if (!data.identity.equals(caller.identity())) {
      data.close();
      log.warn(
          "{}: refused a data connection of client {} presented as its own", caller, data.identity);
      respondError(
          c, ErrorCode.FAILED_PRECONDITION, "the data connection with this ticket is not yours");
      return;
    }
    c.bindDirect(data);
    byte[] out = Json.write(null);
    c.writer.headerMessage(OK_JSON);
    c.writer.dataMessage(out, 0, out.length);
    c.writer.flush();
  }

  private static boolean tcp(@Nullable SocketChannel ch) {
    try {
      return ch != null && ch.getRemoteAddress() instanceof InetSocketAddress;
    } catch (IOException e) {
      return false;
    }
  }

  /** The JSON of a data ticket. */
  record Ticket(@Nullable String ticket) {}

  /** A data connection of the direct data path, waiting for its call or bound to it. */
  static final class DataConnection {
    final SocketChannel channel;
    final int fd;
    final String identity;
    final long since = System.nanoTime();
    private final Sockets sockets;
    // the bytes received before the stream's: its ticket (all read, so all received)
    private final long prologue;

    DataConnection(SocketChannel channel, int fd, String identity, Sockets sockets) {
      this.channel = channel;
      this.fd = fd;
      this.identity = identity;
      this.sockets = sockets;
      this.prologue = Math.max(0, sockets.bytesReceived(fd));
    }

    DirectStream stream(InputStream verdict, Duration readTimeout) {
      return new DirectStream(
          channel,
          fd,
          prologue,
          verdict,
          sockets,
          readTimeout.isZero() ? Duration.ofSeconds(60) : readTimeout);
    }

    /**
     * Writes a response's bytes into the connection: by the source's writer itself where it can
     * ({@link DirectSource}), else copied through this JVM; then ends the sending direction.
     */
    void write(InputStream src) throws IOException {
      if (src instanceof DirectSource d && d.direct()) {
        d.writeInto(fd, () -> sockets.bytesAcked(fd));
      } else {
        try (var arena = Arena.ofConfined()) {
          var buf = arena.allocate(1 << 20).asByteBuffer();
          while (ByteChannels.read(src, buf.clear()) >= 0) {
            buf.flip();
            while (buf.hasRemaining()) {
              channel.write(buf);
            }
          }
        }
      }
      endOutput();
    }

    /** An endpoint's output stream into the connection. */
    OutputStream output() {
      return java.nio.channels.Channels.newOutputStream(channel);
    }

    /** Ends the sending direction: the client reads the end of the bytes. */
    void endOutput() {
      sockets.shutdownOutput(fd);
    }

    /** Ends both directions: the client's reader sees the end at once (a failed response). */
    void abort() {
      sockets.shutdownBoth(fd);
    }

    void close() {
      closeQuietly(channel);
    }
  }

  /**
   * @param data the call's data connection, for a stream response (it carries the bytes, the call's
   *     own connection the verdict); null: a framed response
   */
  private void dispatch(
      Conn c,
      Header h,
      byte @Nullable [] json,
      @Nullable InputStream body,
      Caller caller,
      @Nullable DataConnection data)
      throws IOException {
    String name = h.endpoint();
    if (name.equals(Hello.ENDPOINT)) {
      hello(c, json);
      return;
    }
    if (name.equals(DIRECT_ENDPOINT)) {
      bindDirect(c, json, caller);
      return;
    }
    var found = endpoints.find(name);
    if (found.isEmpty()) {
      respondError(c, ErrorCode.NOT_FOUND, "unregistered endpoint " + name);
      return;
    }
    var ep = found.get();
    if (h.dataType() != ep.in()) {
      respondError(
          c,
          ErrorCode.INVALID_ARGUMENT,
          "wrong DataType for endpoint "
              + name
              + ": got "
              + h.dataType().wire()
              + ", want "
              + ep.in().wire());
      return;
    }
    if (h.accept() != ep.out()) {
      respondError(
          c,
          ErrorCode.INVALID_ARGUMENT,
          "wrong Accept for endpoint "
              + name
              + ": got "
              + h.accept().wire()
              + ", want "
              + ep.out().wire());
      return;
    }
    Object request = null;
    if (ep.requestType() != null) {
      try {
        request = Json.read(json == null ? new byte[0] : json, ep.requestType());
      } catch (IOException | RuntimeException e) {
        respondError(
            c,
            ErrorCode.INVALID_ARGUMENT,
            "cannot decode marshaled JSON for endpoint " + name + ": " + firstLine(e.getMessage()));
        return;
      }
      if (request == null) {
        respondError(
            c, ErrorCode.INVALID_ARGUMENT, "request body of endpoint " + name + " is null");
        return;
      }
      var missing = RequiredFields.firstMissing(request);
      if (missing.isPresent()) {
        respondError(
            c,
            ErrorCode.INVALID_ARGUMENT,
            "request of endpoint " + name + ": " + missing.get() + " is missing (null)");
        return;
      }
    }
    log.debug("{}: call {}", caller, name);
    if (ep.outSlot() >= 0) {
      writeOk(c, DataType.OCTETS);
      MessageOutputStream mos = c.writer.dataStream(c.v1() ? OK_TRAILER : null);
      var guarded = new SocketSide(mos);
      try {
        if (data != null) {
          c.writer.flush(); // the client reads the bytes once it has the answer's header
          ep.invoke(ep.args(request, body, data.output(), caller));
          data.endOutput();
        } else {
          ep.invoke(ep.args(request, body, guarded, caller));
        }
      } catch (Throwable t) {
        if (data != null) {
          data.abort();
        }
        failStream(c, mos, name, t);
        return;
      }
      mos.close();
      return;
    }
    Object result;
    try {
      result = ep.invoke(ep.args(request, body, null, caller));
    } catch (Throwable t) {
      rethrowFatal(t);
      var rx = toRemote(name, t, caller);
      respondError(c, rx.code(), rx.getMessage());
      return;
    }
    if (ep.out() == DataType.OCTETS) {
      if (result == null) {
        respondError(c, ErrorCode.INTERNAL, "endpoint " + name + " returned no stream");
        return;
      }
      try (InputStream src = (InputStream) result) {
        writeOk(c, DataType.OCTETS);
        MessageOutputStream mos = c.writer.dataStream(c.v1() ? OK_TRAILER : null);
        if (data != null) {
          // the bytes on the data connection (written by the source's own writer where it can),
          // the verdict in the trailer of an empty framed response; the client reads the bytes
          // once it has the answer's header
          try {
            c.writer.flush();
            data.write(src);
          } catch (Throwable t) {
            data.abort();
            failStream(c, mos, name, t);
            return;
          }
          mos.close();
          return;
        }
        try {
          if (src instanceof ReadableByteChannel ch && c.transport.channel() != null) {
            copyDirect(ch, new SocketSide(mos), c.options.bufferSize());
          } else {
            src.transferTo(new SocketSide(mos));
          }
        } catch (Throwable t) {
          failStream(c, mos, name, t);
          return;
        }
        mos.close();
      }
      return;
    }
    byte[] out;
    try {
      out = Json.write(result);
    } catch (IOException | RuntimeException e) {
      respondError(c, ErrorCode.INTERNAL, "cannot marshal response: " + e.getMessage());
      return;
    }
    c.writer.headerMessage(OK_JSON);
    c.writer.dataMessage(out, 0, out.length);
    c.writer.flush();
  }

  /** A stream that failed after its OK header: error trailer for v1 peers, else hang up. */
  private static void failStream(Conn c, MessageOutputStream mos, String name, Throwable t)
      throws IOException {
    if (t instanceof SocketSide.WriteFailed wf) {
      throw wf.io(); // the peer is gone
    }
    rethrowFatal(t);
    String msg = t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
    if (c.v1() && !mos.isClosed()) {
      log.debug("endpoint {}: stream failed: {}", name, msg);
      ErrorCode code = t instanceof RemoteException r ? r.code() : ErrorCode.UNKNOWN;
      mos.abort(Header.error(code, msg, true).encode());
      return;
    }
    log.debug("endpoint {}: stream failed, hanging up (seed peer): {}", name, msg);
    throw new IOException("stream of endpoint " + name + " failed: " + msg, t);
  }

  private void hello(Conn c, byte @Nullable [] json) throws IOException {
    Hello peer;
    try {
      peer = (Hello) Json.read(json == null ? new byte[0] : json, Json.type(Hello.class));
    } catch (IOException | RuntimeException e) {
      respondError(c, ErrorCode.INVALID_ARGUMENT, "cannot decode hello: " + e.getMessage());
      return;
    }
    int version = options.seedOnly() || peer == null ? 0 : Math.min(peer.version(), Hello.VERSION);
    if (version >= 1 && peer != null) {
      c.adoptPeerTimings(peer); // before the reply, which tells the client the adopted timings
    }
    boolean direct =
        version >= 1
            && peer != null
            && peer.offers(Hello.DIRECT_DATA)
            && options.directData()
            && sockets != null
            && tcp(c.transport.channel());
    var reply =
        new Hello(
            version,
            SOFTWARE,
            options.idleTimeout().toMillis(),
            c.keepAlive().toMillis(),
            c.readTimeout().toMillis(),
            direct ? List.of(Hello.DIRECT_DATA) : null);
    byte[] out = Json.write(reply);
    c.writer.headerMessage(OK_JSON);
    c.writer.dataMessage(out, 0, out.length);
    c.writer.flush();
    if (direct) {
      c.enableDirectData();
    }
    if (version >= 1 && !c.v1()) {
      c.enableV1();
      log.debug("{}: protocol version 1", c.transport.remote());
    }
  }

  private static final byte[] OK_JSON = Header.ok(DataType.JSON).encode();
  private static final byte[] OK_OCTETS = Header.ok(DataType.OCTETS).encode();
  private static final byte[] OK_TRAILER = Header.ok(DataType.UNSET).encode();

  private static void writeOk(Conn c, DataType t) throws IOException {
    c.writer.headerMessage(t == DataType.JSON ? OK_JSON : OK_OCTETS);
  }

  private static void respondError(Conn c, ErrorCode code, String message) throws IOException {
    log.debug("{}: error response {}: {}", c.transport.remote(), code, message);
    c.writer.headerMessage(Header.error(code, message, c.v1()).encode());
    c.writer.flush();
  }

  /** Validates the trailer after a request body: an error status fails the body's reader. */
  static void checkTrailer(byte[] payload) throws IOException {
    Header t = Json.readHeader(payload);
    if (t.status() != Status.OK) {
      throw t.toException();
    }
  }

  private static void drain(MessageInputStream body) throws IOException {
    try {
      body.drain();
    } catch (RemoteException e) {
      log.debug("request body ended with: {}", e.getMessage()); // the client aborted it
    }
  }

  private static RemoteException toRemote(String name, Throwable t, Caller caller) {
    if (t instanceof RemoteException r) {
      return r;
    }
    String msg = t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
    if (t instanceof IllegalArgumentException) {
      return new RemoteException(ErrorCode.INVALID_ARGUMENT, msg, t);
    }
    if (t instanceof RuntimeException) {
      log.warn("{}: endpoint {} failed", caller, name, t);
    } else {
      log.debug("{}: endpoint {} failed: {}", caller, name, msg);
    }
    return new RemoteException(ErrorCode.UNKNOWN, msg, t);
  }

  static void rethrowFatal(Throwable t) {
    if (t instanceof VirtualMachineError e) {
      throw e;
    }
  }

  private static String firstLine(@Nullable String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  // ------------------------------------------------------------------------------------ listeners

  /**
   * Accepts TCP connections on {@code address}.
   *
   * @param identities the client identity for a peer address; empty refuses the connection (closed,
   *     logged at WARN)
   */
  public RpcListener listenTcp(
      InetSocketAddress address, Function<InetSocketAddress, Optional<String>> identities)
      throws IOException {
    var ss = ServerSocketChannel.open();
    try {
      ss.setOption(StandardSocketOptions.SO_REUSEADDR, true);
      ss.bind(address, 128);
    } catch (IOException | RuntimeException e) {
      ss.close();
      throw e;
    }
    return listen(
        ss.getLocalAddress(),
        ss,
        new Acceptor<SocketChannel>() {
          @Override
          public SocketChannel accept() throws IOException {
            return ss.accept();
          }

          @Override
          public Optional<Accepted> open(SocketChannel s) throws IOException {
            var peer = (InetSocketAddress) s.getRemoteAddress();
            Optional<String> id = identities.apply(peer);
            if (id.isEmpty()) {
              log.warn("refusing connection from {}: no client identity configured for it", peer);
              return Optional.empty();
            }
            return Optional.of(
                new Accepted(Transport.of(s), new Caller(id.get(), String.valueOf(peer))));
          }
        });
  }

  /**
   * Accepts connections on a Unix domain socket at {@code path} (replacing a stale socket file),
   * all with the given client identity.
   *
   * <p>The socket is never reachable by others, not even for an instant: its directory must be
   * accessible to its owner only (no group or other permission bits), and the socket is bound in a
   * fresh private directory beside it, set to mode 0600 there, and only then renamed to {@code
   * path}. (The JDK has no umask for the bind; binding in place and changing the mode afterwards
   * would leave a window in which the socket has the umask's mode.)
   *
   * @throws IOException if the directory is missing, not a directory, or accessible to group or
   *     others (naming it and its permissions), or the socket cannot be bound
   */
  public RpcListener listenUnix(Path path, String identity) throws IOException {
    Path dir = path.toAbsolutePath().getParent();
    if (dir == null) {
      throw new IOException("Unix socket " + path + " has no directory");
    }
    requireOwnerOnly(dir, path);
    Path staging = stagingDirectory(dir);
    Path bound = staging.resolve("s");
    var ssc = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      ssc.bind(UnixDomainSocketAddress.of(bound));
      Files.setPosixFilePermissions(bound, PosixFilePermissions.fromString("rw-------"));
      Files.deleteIfExists(path);
      Files.move(bound, path, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException | RuntimeException e) {
      ssc.close();
      Files.deleteIfExists(bound);
      throw e;
    } finally {
      Files.deleteIfExists(staging);
    }
    return listen(
        UnixDomainSocketAddress.of(path),
        () -> {
          ssc.close();
          Files.deleteIfExists(path);
        },
        new Acceptor<SocketChannel>() {
          @Override
          public SocketChannel accept() throws IOException {
            return ssc.accept();
          }

          @Override
          public Optional<Accepted> open(SocketChannel ch) throws IOException {
            return Optional.of(
                new Accepted(Transport.of(ch), new Caller(identity, "unix:" + path)));
          }
        });
  }

  private static final Set<PosixFilePermission> OWNER_ONLY_DIRECTORY =
      PosixFilePermissions.fromString("rwx------");

  /**
   * A fresh owner-only directory in {@code dir} with a short name ({@code .b} and 6 hex digits):
   * the staged socket's path is only a few bytes longer than its final one, which matters under the
   * 107-byte limit of a Unix socket path.
   */
  private static Path stagingDirectory(Path dir) throws IOException {
    for (int attempt = 0; ; attempt++) {
      Path d = dir.resolve(String.format(".b%06x", ThreadLocalRandom.current().nextInt(1 << 24)));
      try {
        return Files.createDirectory(d, PosixFilePermissions.asFileAttribute(OWNER_ONLY_DIRECTORY));
      } catch (FileAlreadyExistsException e) {
        if (attempt >= 100) {
          throw e;
        }
      }
    }
  }

  /** Refuses a socket directory that is not a directory or that group or others can access. */
  private static void requireOwnerOnly(Path dir, Path socket) throws IOException {
    if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      throw new IOException(
          "directory " + dir + " of Unix socket " + socket + " is missing or not a directory");
    }
    Set<PosixFilePermission> perms = Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS);
    for (PosixFilePermission p : perms) {
      if (!OWNER_ONLY_DIRECTORY.contains(p)) {
        throw new IOException(
            "directory "
                + dir
                + " of Unix socket "
                + socket
                + " is accessible to group or others ("
                + PosixFilePermissions.toString(perms)
                + "): refusing to create the socket there; chmod 0700 it");
      }
    }
  }

  /**
   * Serves the connections of any listening socket the way {@link #listenTcp} does: one virtual
   * thread accepts, each connection gets its own platform thread (see the class notes for why),
   * {@link RpcOptions#maxConnections} bounds them (a connection still being opened counts), and
   * closing this server closes the listener. {@link Acceptor#open} runs on the connection's thread,
   * so slow per-connection work (a TLS handshake) never holds up the accept loop. A failing {@link
   * Acceptor#accept} (EMFILE when descriptors run out) does not end the loop: it retries with a
   * backoff of 10 ms doubling to 1 s, logs the first failure of a burst at WARN, and stops only
   * when the listener is closed.
   *
   * @param address the bound address, for logs and {@link RpcListener#address()}
   * @param socket the listening socket; closing it must make {@link Acceptor#accept} throw. The
   *     returned listener owns it.
   */
  public <S extends Closeable> RpcListener listen(
      SocketAddress address, Closeable socket, Acceptor<S> acceptor) {
    var l = new RpcListener(address, socket);
    listeners.add(l);
    String name = address instanceof InetSocketAddress a ? "" + a.getPort() : "" + address;
    Thread.ofVirtual()
        .name("rpc-accept-" + name)
        .start(
            () -> {
              int failures = 0;
              while (!l.isClosed()) {
                S s;
                try {
                  connectionSlots.acquire();
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                  return;
                }
                try {
                  s = acceptor.accept();
                } catch (IOException | RuntimeException e) {
                  connectionSlots.release();
                  if (l.isClosed()) {
                    return;
                  }
                  failures++;
                  if (failures == 1) {
                    log.warn(
                        "accept on {} failed, retrying until it succeeds: {}",
                        address,
                        e.toString());
                  } else {
                    log.debug("accept on {} failed again ({}): {}", address, failures, e);
                  }
                  try {
                    Thread.sleep(acceptBackoff(failures));
                  } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return;
                  }
                  continue;
                }
                if (failures > 0) {
                  log.info("accept on {} works again after {} failures", address, failures);
                  failures = 0;
                }
                Thread.ofPlatform()
                    .daemon()
                    .name("rpc-conn-" + name)
                    .start(() -> open(acceptor, s, address));
              }
            });
    return l;
  }

  /**
   * The pause after the {@code failures}-th accept failure in a row: 10 ms doubling up to 1 s, so a
   * listener out of file descriptors (EMFILE) neither spins nor stays deaf long once one is free.
   */
  static Duration acceptBackoff(int failures) {
    return Duration.ofMillis(Math.min(1000, 10L << Math.min(failures - 1, 7)));
  }

  private <S extends Closeable> void open(Acceptor<S> acceptor, S s, SocketAddress address) {
    try {
      Optional<Accepted> a = acceptor.open(s);
      if (a.isEmpty()) {
        closeQuietly(s);
        return;
      }
      serve(a.get().transport(), a.get().caller());
    } catch (IOException | RuntimeException e) {
      log.warn("connection on {}: {}", address, e.toString());
      closeQuietly(s);
    } finally {
      connectionSlots.release();
    }
  }

  /**
   * How {@link #listen} accepts and opens connections. Implementations need not be thread-safe
   * beyond this: {@link #accept} runs on the accept thread only, {@link #open} on each connection's
   * own thread.
   */
  public interface Acceptor<S extends Closeable> {
    /** Blocks until the next connection arrives; throws once the listening socket is closed. */
    S accept() throws IOException;

    /**
     * Authenticates a connection and returns what to serve, or empty to refuse it (after logging
     * why, at WARN). The server closes a refused connection, or one for which this throws.
     */
    Optional<Accepted> open(S connection) throws IOException;
  }

  /** An opened connection: the transport to serve and who is calling over it. */
  public record Accepted(Transport transport, Caller caller) {}

  /** Stops accepting and hangs up every connection. Idempotent. */
  @Override
  public void close() {
    closed = true;
    for (AutoCloseable l : listeners) {
      closeQuietly(l);
    }
    listeners.clear();
    for (Conn c : connections) {
      c.hangUp();
    }
    // and the data connections still waiting for their calls
    for (var e : tickets.entrySet()) {
      if (tickets.remove(e.getKey(), e.getValue())) {
        e.getValue().close();
      }
    }
  }

  /**
   * Every registered endpoint, sorted by name: what a client can call, as registered (for tests
   * that enumerate a server's surface, and for diagnostics).
   */
  public List<EndpointInfo> endpoints() {
    return endpoints.all().stream()
        .map(
            e ->
                new EndpointInfo(
                    e.name(),
                    e.requestGenericType(),
                    e.in().hasOctets(),
                    e.out() == DataType.OCTETS))
        .toList();
  }

  /**
   * One registered endpoint.
   *
   * @param name what a client calls
   * @param request the declared type of its JSON request; null for an endpoint that takes none
   * @param requestBody whether the request ends with an octet stream (protocol version 1)
   * @param octetResponse whether the response is an octet stream
   */
  public record EndpointInfo(
      String name, @Nullable Type request, boolean requestBody, boolean octetResponse) {}

  /** Number of connections being served (for tests and status). */
  public int activeConnections() {
    return connections.size();
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception e) {
      log.debug("close {}: {}", c, e.toString());
    }
  }

  /** A listening socket; closing it stops accepting (connections being served go on). */
  public static final class RpcListener implements AutoCloseable {
    private final SocketAddress address;
    private final AutoCloseable socket;

    private volatile boolean closed;

    RpcListener(SocketAddress address, AutoCloseable socket) {
      this.address = address;
      this.socket = socket;
    }

    boolean isClosed() {
      return closed;
    }

    public SocketAddress address() {
      return address;
    }

    /** The TCP port, for TCP listeners. */
    public int port() {
      return address instanceof InetSocketAddress a ? a.getPort() : -1;
    }

    @Override
    public void close() throws Exception {
      closed = true;
      socket.close();
    }
  }

  /**
   * Copies a channel source (zfs send's pipe) to the socket channel through one direct buffer: no
   * copy through a heap array on either side.
   */
  private static void copyDirect(ReadableByteChannel src, SocketSide out, int size)
      throws IOException {
    try (var arena = Arena.ofConfined()) {
      var buf = arena.allocate(Math.max(64 * 1024, size)).asByteBuffer();
      while (src.read(buf.clear()) >= 0) {
        out.write(buf.flip());
      }
    }
  }

  /** Marks failures of writes to the peer, to tell them from failures of the handler's source. */
  private static final class SocketSide extends OutputStream {
    private final MessageOutputStream out;

    SocketSide(MessageOutputStream out) {
      this.out = out;
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      try {
        out.write(b, off, len);
      } catch (IOException e) {
        throw new WriteFailed(e);
      }
    }

    void write(ByteBuffer b) throws IOException {
      try {
        out.write(b);
      } catch (IOException e) {
        throw new WriteFailed(e);
      }
    }

    @Override
    public void flush() throws IOException {
      try {
        out.flush();
      } catch (IOException e) {
        throw new WriteFailed(e);
      }
    }

    /** The handler may close it: the message is ended by the server after the handler returns. */
    @Override
    public void close() {}

    static final class WriteFailed extends IOException {
      private static final long serialVersionUID = 1L;

      private final IOException io;

      WriteFailed(IOException cause) {
        super(cause.getMessage(), cause);
        this.io = cause;
      }

      IOException io() {
        return io;
      }
    }
  }

  static FrameReader.TrailerHandler trailerChecker() {
    return RpcServer::checkTrailer;
  }
}
