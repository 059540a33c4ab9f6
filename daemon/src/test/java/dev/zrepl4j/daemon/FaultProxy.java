package dev.zrepl4j.daemon;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Test support for the fault harness: a TCP forwarder on 127.0.0.1 to a port that may go away and
 * come back (a killed and restarted daemon: a connection that cannot reach the target is closed,
 * the proxy keeps accepting). Its connections can be cut ({@link #cutAll}), stalled (no byte
 * forwarded in either direction, both sockets kept open: {@link #stall}, {@link #pauseAt}) and
 * slowed ({@link #slow}). It counts the bytes it forwarded, both directions together, which is how
 * the harness names the moment of a fault. (The replication module's {@code TcpProxy} stops
 * accepting for good once its target refuses a connection and cannot slow; this one is its sibling
 * for daemons that are killed and restarted.)
 */
final class FaultProxy implements AutoCloseable {
  private final ServerSocket server;
  private final int targetPort;
  private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  // guarded by lock
  private long forwarded;
  private long pauseAt = Long.MAX_VALUE;
  private boolean stalled;
  private long bytesPerSecond;

  FaultProxy(int targetPort) throws IOException {
    this.targetPort = targetPort;
    server = new ServerSocket(0, 64, InetAddress.getLoopbackAddress());
    Thread.ofVirtual().name("fault-proxy-accept").start(this::acceptLoop);
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      Socket in;
      try {
        in = server.accept();
      } catch (IOException e) {
        return; // closed
      }
      var out = new Socket();
      try {
        out.connect(
            new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort),
            (int) TimeUnit.SECONDS.toMillis(5));
      } catch (IOException e) {
        // the target is down (a killed daemon): the client sees its connection closed
        closeQuietly(in);
        closeQuietly(out);
        continue;
      }
      sockets.add(in);
      sockets.add(out);
      pump(in, out);
      pump(out, in);
    }
  }

  int port() {
    return server.getLocalPort();
  }

  /** Bytes forwarded so far, both directions, all connections. */
  long forwarded() {
    lock.lock();
    try {
      return forwarded;
    } finally {
      lock.unlock();
    }
  }

  /** Stalls (as {@link #stall}) once {@link #forwarded} reaches {@code bytes}. */
  void pauseAt(long bytes) {
    lock.lock();
    try {
      pauseAt = bytes;
      if (forwarded >= pauseAt) {
        stalled = true;
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Stops forwarding: every byte read from now on waits until {@link #release}. */
  void stall() {
    lock.lock();
    try {
      stalled = true;
    } finally {
      lock.unlock();
    }
  }

  /** Whether forwarding is stalled now (by {@link #stall} or a reached {@link #pauseAt}). */
  boolean stalled() {
    lock.lock();
    try {
      return stalled;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until forwarding is stalled (a {@link #pauseAt} reached) or {@code timeout} passes; true
   * if stalled.
   */
  boolean awaitStalled(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    lock.lock();
    try {
      while (!stalled) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        changed.awaitNanos(left);
      }
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** Forwards at most {@code rate} bytes per second per direction and connection; 0: unlimited. */
  void slow(long rate) {
    lock.lock();
    try {
      bytesPerSecond = rate;
    } finally {
      lock.unlock();
    }
  }

  /** Forwards again at the rate set by {@link #slow}, with no pause pending. */
  void resume() {
    lock.lock();
    try {
      pauseAt = Long.MAX_VALUE;
      stalled = false;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Forwards again, at full speed, with no pause pending. */
  void release() {
    lock.lock();
    try {
      pauseAt = Long.MAX_VALUE;
      stalled = false;
      bytesPerSecond = 0;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Counts {@code n} bytes read; waits while stalled; returns the rate to forward them at. */
  private long beforeWrite(int n) throws InterruptedException {
    lock.lock();
    try {
      forwarded += n;
      if (forwarded >= pauseAt && !stalled) {
        stalled = true;
        changed.signalAll();
      }
      while (stalled) {
        changed.await();
      }
      return bytesPerSecond;
    } finally {
      lock.unlock();
    }
  }

  private void pump(Socket from, Socket to) {
    Thread.ofVirtual()
        .name("fault-proxy-pump")
        .start(
            () -> {
              var buf = new byte[16 * 1024];
              try (InputStream in = from.getInputStream();
                  OutputStream out = to.getOutputStream()) {
                int n;
                while ((n = in.read(buf)) >= 0) {
                  long rate = beforeWrite(n);
                  if (rate > 0) {
                    Thread.sleep(Duration.ofNanos(n * 1_000_000_000L / rate));
                  }
                  out.write(buf, 0, n);
                  out.flush();
                }
              } catch (IOException | InterruptedException e) {
                // closed or cut
              } finally {
                closeQuietly(from);
                closeQuietly(to);
                sockets.remove(from);
                sockets.remove(to);
              }
            });
  }

  /** Closes every forwarded connection (both halves); returns how many sockets were open. */
  int cutAll() {
    int n = 0;
    for (var s : Set.copyOf(sockets)) {
      closeQuietly(s);
      sockets.remove(s);
      n++;
    }
    return n;
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
    release();
    server.close();
    cutAll();
  }
}
