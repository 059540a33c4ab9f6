package dev.zrepl4j.daemon;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.jspecify.annotations.Nullable;

/**
 * The tcp outlet's sink: one line per entry over a TCP connection, optionally TLS with a client
 * certificate (zrepl's {@code TCPOutlet}). Dialing and each write are bounded by {@code
 * retry_interval}, as zrepl's dial deadline and write deadline: a write that takes longer closes
 * the connection. Used by one thread; {@link #close()} from any.
 */
final class TcpSink implements OutletSink {
  /*
   * Implementation notes. A java.net.Socket has no write timeout, so a log server that stops
   * reading would hold the outlet's thread in write() forever (the job is never held: it only
   * offers to the outlet's bounded queue). A watchdog virtual thread per connection closes the
   * socket when a write has been in progress longer than retry_interval, which ends the write with
   * a SocketException; the outlet then counts the connection as down and redials after
   * retry_interval. The TLS server's certificate must chain to the configured CA and name the host
   * of `address` (HTTPS-style endpoint identification; zrepl passes "host:port" as the server name,
   * which no certificate can match).
   */
  private final String net;
  private final String host;
  private final int port;
  private final Duration timeout;
  private final @Nullable SSLContext tls;
  private @Nullable Socket socket;
  private @Nullable OutputStream out;
  private volatile long writingSince;

  /**
   * @param net tcp, tcp4 or tcp6
   * @param timeout dial timeout, write timeout
   * @param tls null for plain TCP
   */
  TcpSink(String net, String host, int port, Duration timeout, @Nullable SSLContext tls) {
    this.net = net;
    this.host = host;
    this.port = port;
    this.timeout = timeout;
    this.tls = tls;
  }

  @Override
  public synchronized boolean isOpen() {
    return socket != null;
  }

  @Override
  public void open() throws IOException {
    var addresses = new ArrayList<InetAddress>();
    for (var a : InetAddress.getAllByName(host)) {
      if (net.equals("tcp")
          || (net.equals("tcp4") && a instanceof Inet4Address)
          || (net.equals("tcp6") && a instanceof Inet6Address)) {
        addresses.add(a);
      }
    }
    if (addresses.isEmpty()) {
      throw new IOException(host + " has no " + net + " address");
    }
    int ms = (int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis()));
    @Nullable IOException last = null;
    for (var a : addresses) {
      var raw = new Socket();
      try {
        raw.connect(new InetSocketAddress(a, port), ms);
        Socket s = raw;
        if (tls != null) {
          var t = (SSLSocket) tls.getSocketFactory().createSocket(raw, host, port, true);
          t.setUseClientMode(true);
          var params = t.getSSLParameters();
          params.setEndpointIdentificationAlgorithm("HTTPS");
          t.setSSLParameters(params);
          t.setSoTimeout(ms);
          t.startHandshake();
          t.setSoTimeout(0);
          s = t;
        }
        var o = s.getOutputStream();
        synchronized (this) {
          socket = s;
          out = o;
        }
        var watched = s;
        Thread.ofVirtual().name("log-outlet-tcp-watchdog").start(() -> watchdog(watched));
        return;
      } catch (IOException e) {
        raw.close();
        last = e;
      }
    }
    throw new IOException("cannot connect to " + describe() + ": " + last, last);
  }

  private void watchdog(Socket s) {
    long tick = Math.max(10, Math.min(1000, timeout.toMillis() / 4));
    while (!s.isClosed()) {
      try {
        Thread.sleep(tick);
      } catch (InterruptedException e) {
        return;
      }
      long since = writingSince;
      if (since != 0 && System.nanoTime() - since > timeout.toNanos()) {
        try {
          s.close();
        } catch (IOException e) {
          return;
        }
      }
    }
  }

  @Override
  public void write(LogEntry.Level level, String line) throws IOException {
    OutputStream o;
    synchronized (this) {
      o = out;
    }
    if (o == null) {
      throw new IOException("not connected to " + describe());
    }
    writingSince = System.nanoTime();
    try {
      o.write((line + "\n").getBytes(StandardCharsets.UTF_8));
      o.flush();
    } catch (IOException e) {
      close();
      throw new IOException("writing to " + describe() + ": " + e.getMessage(), e);
    } finally {
      writingSince = 0;
    }
  }

  @Override
  public String describe() {
    return (tls == null ? "tcp " : "tcp+tls ") + host + ":" + port;
  }

  @Override
  public void close() {
    Socket s;
    synchronized (this) {
      s = socket;
      socket = null;
      out = null;
    }
    if (s != null) {
      try {
        s.close();
      } catch (IOException e) {
        // closing a broken connection: nothing more to do
      }
    }
  }
}
