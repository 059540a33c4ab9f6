package dev.zrepl4j.replication;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** Test support: a TCP forwarder on 127.0.0.1 whose connections can be cut mid-stream. */
final class CutProxy implements AutoCloseable {
  private final ServerSocket server;
  private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();

  CutProxy(int targetPort) throws IOException {
    server = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
    Thread.ofVirtual()
        .name("cut-proxy-accept")
        .start(
            () -> {
              while (!server.isClosed()) {
                try {
                  var in = server.accept();
                  var out = new Socket();
                  out.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort));
                  sockets.add(in);
                  sockets.add(out);
                  pump(in, out);
                  pump(out, in);
                } catch (IOException e) {
                  return;
                }
              }
            });
  }

  int port() {
    return server.getLocalPort();
  }

  private void pump(Socket from, Socket to) {
    Thread.ofVirtual()
        .name("cut-proxy-pump")
        .start(
            () -> {
              try (InputStream in = from.getInputStream();
                  OutputStream out = to.getOutputStream()) {
                in.transferTo(out);
              } catch (IOException e) {
                // cut or closed
              } finally {
                closeQuietly(from);
                closeQuietly(to);
              }
            });
  }

  /** Closes every forwarded connection (both halves). */
  void cutAll() {
    for (var s : sockets) {
      closeQuietly(s);
    }
    sockets.clear();
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // already closed
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    cutAll();
  }
}
