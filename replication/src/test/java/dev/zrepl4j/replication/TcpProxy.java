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
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Test support: a TCP forwarder on 127.0.0.1 whose connections can be cut mid-stream ({@link
 * #cutAll}) or stalled (forwarding paused in both directions, connections kept open) and released
 * again.
 */
public final class TcpProxy implements AutoCloseable {
  private final ServerSocket server;
  private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition released = lock.newCondition();
  private final AtomicLong heldChunks = new AtomicLong();
  private final AtomicLong forwarded = new AtomicLong();
  private volatile long stallAfter = Long.MAX_VALUE;
  // connections are numbered as accepted; those numbered below this forward nothing (see
  // stallOpenConnectionsAfter)
  private final AtomicLong accepted = new AtomicLong();
  private volatile long stallOpenAfter = Long.MAX_VALUE;
  private long stalledBelow;
  private boolean stalled;

  public TcpProxy(int targetPort) throws IOException {
    server = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
    Thread.ofVirtual()
        .name("tcp-proxy-accept")
        .start(
            () -> {
              while (!server.isClosed()) {
                try {
                  var in = server.accept();
                  var out = new Socket();
                  out.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort));
                  sockets.add(in);
                  sockets.add(out);
                  long id = accepted.getAndIncrement();
                  pump(in, out, id);
                  pump(out, in, id);
                } catch (IOException e) {
                  return;
                }
              }
            });
  }

  public int port() {
    return server.getLocalPort();
  }

  /** Stalls (as {@link #stall}) once {@code bytes} have been forwarded, in both directions. */
  public void stallAfter(long bytes) {
    stallAfter = bytes;
  }

  /**
   * Once {@code bytes} more have been forwarded (both directions), the connections open at that
   * moment stop forwarding for good (their sockets stay open, a silent peer) until {@link
   * #release}; connections accepted later forward as usual.
   */
  public void stallOpenConnectionsAfter(long bytes) {
    stallOpenAfter = forwarded.get() + bytes;
  }

  /** Stops forwarding: every byte read from now on waits until {@link #release}. */
  public void stall() {
    lock.lock();
    try {
      stalled = true;
    } finally {
      lock.unlock();
    }
  }

  /** Forwards again. */
  public void release() {
    lock.lock();
    try {
      stallAfter = Long.MAX_VALUE;
      stallOpenAfter = Long.MAX_VALUE;
      stalledBelow = 0;
      stalled = false;
      released.signalAll();
    } finally {
      lock.unlock();
    }
  }

  private volatile long bytesPerSecond;

  /** Forwards at most this many bytes a second on each connection and direction (0: no limit). */
  public void throttle(long bytesPerSecond) {
    this.bytesPerSecond = bytesPerSecond;
  }

  /** How many connections were accepted so far. */
  public long connections() {
    return accepted.get();
  }

  /** How many chunks were read while stalled and had to wait (a stall that really held data). */
  public long heldChunks() {
    return heldChunks.get();
  }

  private void stallOpenConnections() {
    lock.lock();
    try {
      stallOpenAfter = Long.MAX_VALUE;
      stalledBelow = accepted.get();
    } finally {
      lock.unlock();
    }
  }

  private void awaitRelease(long connection) throws InterruptedException {
    lock.lock();
    try {
      if (stalled || connection < stalledBelow) {
        heldChunks.incrementAndGet();
      }
      while (stalled || connection < stalledBelow) {
        released.await();
      }
    } finally {
      lock.unlock();
    }
  }

  private void pump(Socket from, Socket to, long connection) {
    Thread.ofVirtual()
        .name("tcp-proxy-pump")
        .start(
            () -> {
              var buf = new byte[64 * 1024];
              try (InputStream in = from.getInputStream();
                  OutputStream out = to.getOutputStream()) {
                int n;
                while ((n = in.read(buf)) >= 0) {
                  long total = forwarded.addAndGet(n);
                  if (total > stallAfter) {
                    stall();
                  }
                  if (total > stallOpenAfter) {
                    stallOpenConnections();
                  }
                  awaitRelease(connection);
                  out.write(buf, 0, n);
                  out.flush();
                  long rate = bytesPerSecond;
                  if (rate > 0) {
                    Thread.sleep(java.time.Duration.ofNanos(n * 1_000_000_000L / rate));
                  }
                }
              } catch (IOException | InterruptedException e) {
                // closed
              } finally {
                closeQuietly(from);
                closeQuietly(to);
              }
            });
  }

  /** Closes every forwarded connection (both halves). */
  public void cutAll() {
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
    release();
    server.close();
    cutAll();
  }
}
