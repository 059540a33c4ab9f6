package dev.zrepl4j.rpc;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;

/** Test helpers: a connected pair of loopback TCP sockets and a peer that plays raw bytes. */
final class Loopback {
  private Loopback() {}

  /** Two connected sockets on 127.0.0.1: [0] client side, [1] server side. */
  static Socket[] pair() throws IOException {
    try (var ss = new ServerSocket()) {
      ss.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      var c = new Socket();
      c.connect(ss.getLocalSocketAddress(), 5000);
      var s = ss.accept();
      c.setTcpNoDelay(true);
      s.setTcpNoDelay(true);
      return new Socket[] {c, s};
    }
  }

  /** A scripted peer over a raw socket: writes given bytes, reads and records what arrives. */
  static final class ScriptedPeer implements AutoCloseable {
    final Socket socket;
    private final InputStream in;

    ScriptedPeer(Socket socket) throws IOException {
      this.socket = socket;
      this.in = socket.getInputStream();
    }

    void send(byte[] b) throws IOException {
      socket.getOutputStream().write(b);
      socket.getOutputStream().flush();
    }

    /** Reads exactly {@code n} bytes (fails on EOF). */
    byte[] read(int n) throws IOException {
      byte[] b = in.readNBytes(n);
      if (b.length != n) {
        throw new IOException("EOF after " + b.length + " of " + n + " bytes: " + hex(b));
      }
      return b;
    }

    /** Reads one whole frame (header and payload). */
    byte[] readFrame() throws IOException {
      byte[] h = read(6);
      int len = (h[2] & 0xFF) | (h[3] & 0xFF) << 8 | (h[4] & 0xFF) << 16 | (h[5] & 0xFF) << 24;
      byte[] p = read(len);
      var out = new ByteArrayOutputStream();
      out.writeBytes(h);
      out.writeBytes(p);
      return out.toByteArray();
    }

    /** Reads until the peer closes; returns everything. */
    byte[] readToEof() throws IOException {
      return in.readAllBytes();
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  static String hex(byte[] b) {
    var sb = new StringBuilder();
    for (byte x : b) {
      sb.append(String.format("%02x ", x));
    }
    return sb.toString().trim();
  }

  static byte[] concat(byte[]... parts) {
    var out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  static byte[] slice(byte[] b, int from, int to) {
    return Arrays.copyOfRange(b, from, to);
  }
}
