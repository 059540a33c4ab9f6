package dev.zrepl4j.rpc;

import dev.zrepl4j.rpc.frame.MessageInputStream;
import dev.zrepl4j.rpc.frame.MessageOutputStream;
import dev.zrepl4j.rpc.frame.ResetException;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.reflect.Type;
import java.net.ProtocolException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
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
 * peer is noticed. Thread-safe.
 */
final class NetClient implements RpcClient {
  private static final Logger log = LoggerFactory.getLogger(NetClient.class);
  private static final String SOFTWARE = "zrepl4j-rpc";
  private static final byte[] OK_TRAILER = Header.ok(DataType.UNSET).encode();

  private final Conn c;
  private final RpcOptions options;
  private final Semaphore busy = new Semaphore(1);
  private volatile boolean closed;

  private NetClient(Transport t, RpcOptions options) {
    this.options = options;
    this.c = new Conn(t, options, "client", this::idle);
  }

  static NetClient open(Transport t, RpcOptions options) throws IOException {
    var n = new NetClient(t, options);
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
      var reply =
          (Hello)
              exchange(
                  Hello.ENDPOINT,
                  new Hello(Hello.VERSION, SOFTWARE, 0, options.keepAlive().toMillis()),
                  null,
                  Hello.class,
                  true);
      if (reply != null && reply.version() >= 1) {
        c.enableV1();
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
      log.debug("{}: seed protocol peer", c.transport.remote());
    } finally {
      busy.release();
    }
  }

  /** Keeps an idle v1 connection alive (called by the monitor thread). */
  private void idle() {
    if (!c.v1() || closed || !busy.tryAcquire()) {
      return;
    }
    try {
      exchange(
          Hello.ENDPOINT,
          new Hello(Hello.VERSION, SOFTWARE, 0, options.keepAlive().toMillis()),
          null,
          Hello.class,
          true);
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
    c.callActive(true);
    boolean handedOver = false;
    try {
      c.writer.headerMessage(Header.request(endpoint, in, accept).encode());
      if (in != DataType.OCTETS) {
        byte[] json = Json.write(request);
        c.writer.dataMessage(json, 0, json.length);
      }
      if (body != null) {
        // the server starts on the call (a receiver prepares) while the body's source starts
        c.writer.flush();
      }
      IOException localFailure = body == null ? null : sendBody(body);
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
        if (localFailure != null) {
          localFailure.addSuppressed(rx);
          throw localFailure;
        }
        throw rx;
      }
      if (localFailure != null) {
        throw localFailure;
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
        byte[] json = c.reader.readDataMessage(options.maxJsonBody());
        if (responseType == void.class || responseType == Void.class) {
          return null;
        }
        try {
          return Json.read(json, Json.type(responseType));
        } catch (IOException | RuntimeException e) {
          throw new ProtocolException(
              "cannot decode the response of " + endpoint + ": " + e.getMessage());
        }
      }
      var s = new ResponseStream(c.reader.dataStream(c.v1() ? RpcServer::checkTrailer : null));
      handedOver = true;
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
      if (!handedOver) {
        c.watch(Conn.Watch.NONE);
        c.callActive(false);
      }
    }
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
    public long transferTo(java.io.OutputStream out) throws IOException {
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
