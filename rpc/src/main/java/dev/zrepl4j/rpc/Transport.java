package dev.zrepl4j.rpc;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.StandardSocketOptions;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import org.jspecify.annotations.Nullable;

/**
 * A bidirectional byte stream that RPC runs over: a TCP or TLS socket, a Unix domain socket, or a
 * pair of streams (an ssh child's stdin/stdout, a process's own stdio). Closing it must unblock a
 * thread blocked in a read of {@link #input()}.
 */
public interface Transport extends Closeable {
  InputStream input();

  OutputStream output();

  /** The peer, for logs. */
  String remote();

  /**
   * The socket channel under {@link #input()} and {@link #output()} (plain TCP and Unix sockets),
   * for bulk data in direct buffers; null for TLS and stream pairs.
   */
  default @Nullable SocketChannel channel() {
    return null;
  }

  /** A connected socket (TCP or TLS); sets TCP_NODELAY where it applies. */
  static Transport of(Socket socket) throws IOException {
    try {
      socket.setTcpNoDelay(true);
    } catch (SocketException e) {
      // not a TCP socket: nothing to set
    }
    var in = socket.getInputStream();
    var out = socket.getOutputStream();
    String remote = String.valueOf(socket.getRemoteSocketAddress());
    return of(in, out, remote, socket);
  }

  /**
   * A connected socket channel (Unix domain or TCP; sets TCP_NODELAY), used in blocking mode. A
   * thread interrupted in a read or write of it closes it.
   */
  static Transport of(SocketChannel channel) throws IOException {
    channel.configureBlocking(true);
    if (channel.supportedOptions().contains(StandardSocketOptions.TCP_NODELAY)) {
      channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
    }
    String remote = String.valueOf(channel.getRemoteAddress());
    var streams =
        of(Channels.newInputStream(channel), Channels.newOutputStream(channel), remote, channel);
    return new Transport() {
      @Override
      public InputStream input() {
        return streams.input();
      }

      @Override
      public OutputStream output() {
        return streams.output();
      }

      @Override
      public String remote() {
        return remote;
      }

      @Override
      public SocketChannel channel() {
        return channel;
      }

      @Override
      public void close() throws IOException {
        streams.close();
      }

      @Override
      public String toString() {
        return remote;
      }
    };
  }

  /**
   * A pair of streams.
   *
   * @param closer closes the underlying resource (both streams, a process); called once
   */
  static Transport of(InputStream in, OutputStream out, String remote, Closeable closer) {
    return new Transport() {
      private boolean closed;

      @Override
      public InputStream input() {
        return in;
      }

      @Override
      public OutputStream output() {
        return out;
      }

      @Override
      public String remote() {
        return remote;
      }

      @Override
      public synchronized void close() throws IOException {
        if (!closed) {
          closed = true;
          closer.close();
        }
      }

      @Override
      public String toString() {
        return remote;
      }
    };
  }
}
