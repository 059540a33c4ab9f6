package dev.zrepl4j.daemon;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP proxy on 127.0.0.1 that forwards to a port and lets the client's bytes through at no more
 * than a given rate (the replies go at full speed): a real slow link, so that a transfer lasts long
 * enough to watch. Thread-safe.
 */
final class ThrottledProxy implements AutoCloseable {
  private final ServerSocket server;
  private final int targetPort;
  private final long bytesPerSecond;
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  private final Thread acceptor;

  ThrottledProxy(int targetPort, long bytesPerSecond) throws IOException {
    this.targetPort = targetPort;
    this.bytesPerSecond = bytesPerSecond;
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    this.acceptor = Thread.ofVirtual().name("throttled-proxy-accept").start(this::accept);
  }

  int port() {
    return server.getLocalPort();
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        var client = server.accept();
        var target = new Socket(InetAddress.getLoopbackAddress(), targetPort);
        sockets.add(client);
        sockets.add(target);
        Thread.ofVirtual().start(() -> pump(client, target, bytesPerSecond));
        Thread.ofVirtual().start(() -> pump(target, client, Long.MAX_VALUE));
      } catch (IOException e) {
        return; // closed
      }
    }
  }

  private static void pump(Socket from, Socket to, long rate) {
    var buf = new byte[16 * 1024];
    long start = System.nanoTime();
    long total = 0;
    try (InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream()) {
      int n;
      while ((n = in.read(buf)) > 0) {
        out.write(buf, 0, n);
        out.flush();
        total += n;
        if (rate != Long.MAX_VALUE) {
          // ahead of the rate: wait until the bytes so far are due
          long dueNanos = (long) (total * 1e9 / rate);
          long ahead = dueNanos - (System.nanoTime() - start);
          if (ahead > 0) {
            Thread.sleep(ahead / 1_000_000, (int) (ahead % 1_000_000));
          }
        }
      }
    } catch (IOException e) {
      // one side closed: close the other below
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      closeQuietly(from);
      closeQuietly(to);
    }
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // closing
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    for (var s : sockets) {
      closeQuietly(s);
    }
    try {
      acceptor.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
