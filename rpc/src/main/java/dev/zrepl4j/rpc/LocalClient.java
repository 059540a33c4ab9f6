package dev.zrepl4j.rpc;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.lang.reflect.Type;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.Arrays;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * Calls a server's endpoints in-process (the seed's LocalRPC): no framing, no JSON. The request
 * object is passed to the method as it is and the response returned as it is; only when the
 * caller's types differ from the method's are values converted through their JSON form. Errors are
 * the same {@link RemoteException}s a network client sees, with the handler's exception as the
 * cause. Thread-safe; calls do not wait for each other.
 */
final class LocalClient implements RpcClient {
  private final Endpoints endpoints;
  private final Caller caller;
  private volatile boolean closed;

  LocalClient(Endpoints endpoints, Caller caller) {
    this.endpoints = endpoints;
    this.caller = caller;
  }

  @Override
  public @Nullable Object call(
      String endpoint, @Nullable Object request, @Nullable InputStream body, Type responseType)
      throws IOException {
    if (closed) {
      throw new IOException("local client is closed");
    }
    var ep =
        endpoints
            .find(endpoint)
            .orElseThrow(
                () ->
                    new RemoteException(ErrorCode.NOT_FOUND, "unregistered endpoint " + endpoint));
    DataType in =
        body == null ? DataType.JSON : request == null ? DataType.OCTETS : DataType.JSON_AND_OCTETS;
    DataType accept = responseType == InputStream.class ? DataType.OCTETS : DataType.JSON;
    if (in != ep.in()) {
      throw new RemoteException(
          ErrorCode.INVALID_ARGUMENT,
          "wrong DataType for endpoint "
              + endpoint
              + ": got "
              + in.wire()
              + ", want "
              + ep.in().wire());
    }
    if (accept != ep.out()) {
      throw new RemoteException(
          ErrorCode.INVALID_ARGUMENT,
          "wrong Accept for endpoint "
              + endpoint
              + ": got "
              + accept.wire()
              + ", want "
              + ep.out().wire());
    }
    Object req = null;
    if (ep.requestType() != null) {
      if (request == null) {
        throw new RemoteException(
            ErrorCode.INVALID_ARGUMENT, "request body of endpoint " + endpoint + " is null");
      }
      req =
          ep.requestType().getRawClass().isInstance(request)
              ? request
              : Json.convert(request, ep.requestType());
    }
    if (ep.outSlot() >= 0) {
      var pipe = new Pipe();
      Object r = req;
      Thread.ofVirtual()
          .name("rpc-local-" + endpoint)
          .start(
              () -> {
                try {
                  ep.invoke(ep.args(r, body, pipe.sink(), caller));
                  pipe.finish(null);
                } catch (Throwable t) {
                  RpcServer.rethrowFatal(t);
                  pipe.finish(remote(t));
                }
              });
      return pipe;
    }
    Object result;
    try {
      result = ep.invoke(ep.args(req, body, null, caller));
    } catch (Throwable t) {
      RpcServer.rethrowFatal(t);
      throw remote(t);
    }
    if (ep.out() == DataType.OCTETS) {
      return result == null ? null : new RemoteErrors((InputStream) result);
    }
    if (responseType == void.class || responseType == Void.class) {
      return result;
    }
    var type = Json.type(responseType);
    return result == null || type.getRawClass().isInstance(result)
        ? result
        : Json.convert(result, type);
  }

  private static RemoteException remote(Throwable t) {
    if (t instanceof RemoteException r) {
      return r;
    }
    String msg = t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
    ErrorCode code =
        t instanceof IllegalArgumentException ? ErrorCode.INVALID_ARGUMENT : ErrorCode.UNKNOWN;
    return new RemoteException(code, msg, t);
  }

  @Override
  public boolean isOpen() {
    return !closed;
  }

  @Override
  public boolean extensions() {
    return true;
  }

  @Override
  public void close() {
    closed = true;
  }

  /**
   * Reports a handler stream's failures as the network client does: as RemoteExceptions. A channel,
   * so that a channel source (zfs send's pipe) keeps its direct-buffer path through a local call.
   */
  private static final class RemoteErrors extends FilterInputStream
      implements ReadableByteChannel, DirectSource.Wrapping, DirectStream.Carrier {
    RemoteErrors(InputStream in) {
      super(in);
    }

    @Override
    public InputStream wrapped() {
      return in;
    }

    @Override
    public @Nullable DirectStream directStream() {
      return DirectStream.of(in);
    }

    @Override
    public void writeInto(int fd, java.util.function.LongSupplier sent) throws IOException {
      try {
        DirectSource.Wrapping.super.writeInto(fd, sent);
      } catch (IOException e) {
        throw remote(e);
      }
    }

    @Override
    public int read() throws IOException {
      try {
        return in.read();
      } catch (IOException e) {
        throw remote(e);
      }
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      try {
        return in.read(b, off, len);
      } catch (IOException e) {
        throw remote(e);
      }
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
      try {
        return ByteChannels.read(in, dst);
      } catch (IOException e) {
        throw remote(e);
      }
    }

    @Override
    public boolean isOpen() {
      return !(in instanceof ReadableByteChannel ch) || ch.isOpen();
    }
  }

  /** Carries an OutputStream endpoint's bytes to the caller, with the handler's failure. */
  private static final class Pipe extends InputStream {
    private static final byte[] END = new byte[0];
    private final BlockingQueue<byte[]> q = new ArrayBlockingQueue<>(16);
    private volatile @Nullable IOException failure;
    private volatile boolean readerClosed;
    private byte @Nullable [] cur;
    private int pos;

    OutputStream sink() {
      return new OutputStream() {
        @Override
        public void write(int b) throws IOException {
          write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
          if (readerClosed) {
            throw new IOException("the caller closed the stream");
          }
          if (len > 0) {
            put(Arrays.copyOfRange(b, off, off + len));
          }
        }
      };
    }

    void finish(@Nullable IOException e) {
      failure = e;
      try {
        put(END);
      } catch (IOException ignored) {
        // the reader is gone
      }
    }

    private void put(byte[] b) throws IOException {
      try {
        while (!readerClosed && !q.offer(b, 100, TimeUnit.MILLISECONDS)) {
          // wait for the reader
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted");
      }
    }

    @Override
    public int read() throws IOException {
      return ByteChannels.readByte(this);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) {
        return 0;
      }
      while (cur == null || pos == cur.length) {
        if (cur == END) {
          IOException f = failure;
          if (f != null) {
            throw f;
          }
          return -1;
        }
        try {
          cur = q.take();
          pos = 0;
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new InterruptedIOException("interrupted");
        }
        if (cur == END) {
          continue;
        }
      }
      int n = Math.min(len, cur.length - pos);
      System.arraycopy(cur, pos, b, off, n);
      pos += n;
      return n;
    }

    @Override
    public void close() {
      readerClosed = true;
      q.clear();
    }
  }
}
