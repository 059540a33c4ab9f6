package dev.zrepl4j.rpc;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the direct data path needs of a TCP socket that the JDK does not give (docs/DIRECT-PATH.md):
 * its descriptor, made blocking for a child that inherits it; the kernel's byte counters ({@code
 * TCP_INFO}); the first bytes without consuming them ({@code MSG_PEEK}); and a shutdown that a
 * child blocked on it sees. Through the FFM API, without JDK internals: the descriptor of a {@link
 * SocketChannel} is found among this process's open sockets ({@code /proc/self/fd}) by its two
 * addresses, which no other socket of this process has. Linux only; {@link #load()} returns null
 * elsewhere or where native access is denied. Thread-safe.
 */
final class Sockets {
  private static final Logger log = LoggerFactory.getLogger(Sockets.class);

  private static final int AF_INET = 2;
  private static final int AF_INET6 = 10;
  private static final int IPPROTO_TCP = 6;
  private static final int TCP_INFO = 11;
  private static final int MSG_PEEK = 0x2;
  private static final int MSG_DONTWAIT = 0x40;
  private static final int F_GETFL = 3;
  private static final int F_SETFL = 4;
  private static final int O_NONBLOCK = 0x800;
  private static final int SHUT_WR = 1;
  private static final int SHUT_RDWR = 2;
  private static final int EINTR = 4;
  private static final int EAGAIN = 11;
  // struct tcp_info (linux/tcp.h): __u64 tcpi_bytes_acked at 120, tcpi_bytes_received at 128
  // (Linux >= 4.1); the buffer is larger than any version's struct
  private static final long TCP_INFO_SIZE = 512;
  private static final long BYTES_ACKED = 120;
  private static final long BYTES_RECEIVED = 128;
  // __u32 tcpi_unacked (segments) at 24, tcpi_notsent_bytes at 144 (Linux >= 4.6)
  private static final long UNACKED = 24;
  private static final long NOTSENT_BYTES = 144;
  // __u32 tcpi_snd_mss at 16, tcpi_snd_cwnd (segments) at 80
  private static final long SND_MSS = 16;
  private static final long SND_CWND = 80;
  private static final int SOL_SOCKET = 1;
  private static final int SO_MAX_PACING_RATE = 47;
  private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
  private static final VarHandle ERRNO =
      CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

  private static final @Nullable Sockets INSTANCE = load();

  private final MethodHandle getsockname;
  private final MethodHandle getpeername;
  private final MethodHandle getsockopt;
  private final MethodHandle setsockopt;
  private final MethodHandle recv;
  private final MethodHandle fcntl;
  private final MethodHandle shutdown;

  private Sockets(Linker linker, SymbolLookup libc) {
    var i = ValueLayout.JAVA_INT;
    var l = ValueLayout.JAVA_LONG;
    var a = ValueLayout.ADDRESS;
    getsockname =
        linker.downcallHandle(libc.findOrThrow("getsockname"), FunctionDescriptor.of(i, i, a, a));
    getpeername =
        linker.downcallHandle(libc.findOrThrow("getpeername"), FunctionDescriptor.of(i, i, a, a));
    getsockopt =
        linker.downcallHandle(
            libc.findOrThrow("getsockopt"), FunctionDescriptor.of(i, i, i, i, a, a));
    setsockopt =
        linker.downcallHandle(
            libc.findOrThrow("setsockopt"), FunctionDescriptor.of(i, i, i, i, a, i));
    recv =
        linker.downcallHandle(
            libc.findOrThrow("recv"),
            FunctionDescriptor.of(l, i, a, l, i),
            Linker.Option.captureCallState("errno"));
    fcntl =
        linker.downcallHandle(
            libc.findOrThrow("fcntl"),
            FunctionDescriptor.of(i, i, i, i),
            Linker.Option.firstVariadicArg(2));
    shutdown = linker.downcallHandle(libc.findOrThrow("shutdown"), FunctionDescriptor.of(i, i, i));
  }

  /** The sockets' helper, or null where the downcalls cannot be made. */
  static @Nullable Sockets get() {
    return INSTANCE;
  }

  private static @Nullable Sockets load() {
    if (!System.getProperty("os.name", "").equals("Linux")) {
      return null;
    }
    try {
      var linker = Linker.nativeLinker();
      return new Sockets(linker, linker.defaultLookup());
    } catch (RuntimeException e) {
      // IllegalCallerException when native access is denied
      log.debug("socket descriptors are not available: {}", e.toString());
      return null;
    }
  }

  /**
   * The descriptor of a connected TCP channel, or -1 if it is not found (not TCP, closed). The
   * channel keeps owning it: it is closed with the channel.
   */
  int descriptorOf(SocketChannel channel) throws IOException {
    if (!(channel.getLocalAddress() instanceof InetSocketAddress local)
        || !(channel.getRemoteAddress() instanceof InetSocketAddress remote)) {
      return -1;
    }
    // every descriptor is asked directly: getsockname fails at once on one that is no socket, which
    // is cheaper than reading each link of /proc/self/fd first
    List<Integer> candidates = new ArrayList<>();
    try (var fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
      for (var p : fds) {
        try {
          candidates.add(Integer.parseInt(p.getFileName().toString()));
        } catch (NumberFormatException e) {
          // not a descriptor
        }
      }
    }
    try (var arena = Arena.ofConfined()) {
      var addr = arena.allocate(128);
      var len = arena.allocate(ValueLayout.JAVA_INT);
      for (int fd : candidates) {
        if (matches(getsockname, fd, addr, len, local)
            && matches(getpeername, fd, addr, len, remote)) {
          return fd;
        }
      }
    }
    return -1;
  }

  private static boolean matches(
      MethodHandle call, int fd, MemorySegment addr, MemorySegment len, InetSocketAddress want) {
    len.set(ValueLayout.JAVA_INT, 0, (int) addr.byteSize());
    int rc;
    try {
      rc = (int) call.invokeExact(fd, addr, len);
    } catch (Throwable t) {
      throw new IllegalStateException("getsockname/getpeername failed", t);
    }
    if (rc != 0) {
      return false;
    }
    int family = addr.get(ValueLayout.JAVA_SHORT, 0) & 0xffff;
    int port = addr.get(ValueLayout.JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN), 2) & 0xffff;
    if ((family != AF_INET && family != AF_INET6) || port != want.getPort()) {
      return false; // another kind of socket, or another port: no address to build
    }
    var got = parse(addr);
    return got != null && got.equals(want);
  }

  /** A sockaddr_in or sockaddr_in6, or null for another family. */
  private static @Nullable SocketAddress parse(MemorySegment addr) {
    int family = addr.get(ValueLayout.JAVA_SHORT, 0) & 0xffff;
    int port = addr.get(ValueLayout.JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN), 2) & 0xffff;
    try {
      if (family == AF_INET) {
        return new InetSocketAddress(
            InetAddress.getByAddress(addr.asSlice(4, 4).toArray(ValueLayout.JAVA_BYTE)), port);
      }
      if (family == AF_INET6) {
        byte[] ip = addr.asSlice(8, 16).toArray(ValueLayout.JAVA_BYTE);
        int scope = addr.get(ValueLayout.JAVA_INT, 24);
        InetAddress a = InetAddress.getByAddress(ip); // an IPv4-mapped one comes back as IPv4
        if (a instanceof Inet6Address && scope != 0) {
          a = Inet6Address.getByAddress(null, ip, scope);
        }
        return new InetSocketAddress(a, port);
      }
    } catch (IOException e) {
      return null;
    }
    return null;
  }

  /**
   * Makes the socket blocking (the JDK may have set {@code O_NONBLOCK} on it, and a child that
   * inherits the open file would see {@code EAGAIN}). The JVM must not use the channel for I/O
   * afterwards.
   */
  void makeBlocking(int fd) throws IOException {
    try {
      int flags = (int) fcntl.invokeExact(fd, F_GETFL, 0);
      if (flags < 0) {
        throw new IOException("fcntl(F_GETFL) of socket " + fd + " failed");
      }
      if ((flags & O_NONBLOCK) != 0
          && (int) fcntl.invokeExact(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        throw new IOException("fcntl(F_SETFL) of socket " + fd + " failed");
      }
    } catch (IOException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("fcntl failed", t);
    }
  }

  /** Whether the socket is blocking (no {@code O_NONBLOCK}). */
  boolean blocking(int fd) {
    try {
      int flags = (int) fcntl.invokeExact(fd, F_GETFL, 0);
      return flags >= 0 && (flags & O_NONBLOCK) == 0;
    } catch (Throwable t) {
      throw new IllegalStateException("fcntl failed", t);
    }
  }

  /** The bytes the peer acknowledged ({@code tcpi_bytes_acked}): what left this side. */
  long bytesAcked(int fd) {
    return tcpInfo(fd, BYTES_ACKED);
  }

  /** The bytes received ({@code tcpi_bytes_received}). */
  long bytesReceived(int fd) {
    return tcpInfo(fd, BYTES_RECEIVED);
  }

  /**
   * Whether bytes written to the socket wait for the peer: sent and not acknowledged, or not sent
   * yet. A sender whose acknowledged count stands still while this is true is stalled by the link
   * or the peer, not by its own writer.
   */
  boolean waiting(int fd) {
    return tcpInfo(fd, UNACKED, false) > 0 || tcpInfo(fd, NOTSENT_BYTES, false) > 0;
  }

  /**
   * Caps the socket's sending rate at {@code bytesPerSecond} ({@code SO_MAX_PACING_RATE}: the
   * kernel's TCP pacing, Linux 4.13 and later without the {@code fq} qdisc); whether it took it.
   */
  boolean maxPacingRate(int fd, long bytesPerSecond) {
    try (var arena = Arena.ofConfined()) {
      var v = arena.allocate(ValueLayout.JAVA_LONG);
      v.set(ValueLayout.JAVA_LONG, 0, bytesPerSecond);
      int rc = (int) setsockopt.invokeExact(fd, SOL_SOCKET, SO_MAX_PACING_RATE, v, 8);
      if (rc == 0) {
        return true;
      }
      // kernels before 4.20(?) take 32 bits only
      var w = arena.allocate(ValueLayout.JAVA_INT);
      w.set(ValueLayout.JAVA_INT, 0, (int) Math.min(bytesPerSecond, 0xfffffffeL));
      return (int) setsockopt.invokeExact(fd, SOL_SOCKET, SO_MAX_PACING_RATE, w, 4) == 0;
    } catch (Throwable t) {
      throw new IllegalStateException("setsockopt(SO_MAX_PACING_RATE) failed", t);
    }
  }

  /**
   * The bytes the socket may send at once before pacing holds it: its congestion window times its
   * segment size ({@code tcpi_snd_cwnd * tcpi_snd_mss}); -1 if unknown.
   */
  long sendWindow(int fd) {
    long mss = tcpInfo(fd, SND_MSS, false);
    long cwnd = tcpInfo(fd, SND_CWND, false);
    return mss < 0 || cwnd < 0 ? -1 : mss * cwnd;
  }

  private long tcpInfo(int fd, long offset) {
    return tcpInfo(fd, offset, true);
  }

  private long tcpInfo(int fd, long offset, boolean wide) {
    try (var arena = Arena.ofConfined()) {
      var info = arena.allocate(TCP_INFO_SIZE, 8);
      var len = arena.allocate(ValueLayout.JAVA_INT);
      len.set(ValueLayout.JAVA_INT, 0, (int) TCP_INFO_SIZE);
      int rc = (int) getsockopt.invokeExact(fd, IPPROTO_TCP, TCP_INFO, info, len);
      if (rc != 0 || len.get(ValueLayout.JAVA_INT, 0) < offset + (wide ? 8 : 4)) {
        return -1;
      }
      return wide
          ? info.get(ValueLayout.JAVA_LONG, offset)
          : info.get(ValueLayout.JAVA_INT, offset) & 0xffffffffL;
    } catch (Throwable t) {
      throw new IllegalStateException("getsockopt(TCP_INFO) failed", t);
    }
  }

  /**
   * The first {@code n} bytes waiting on the socket, without consuming them: fewer if the peer ends
   * its stream sooner. Waits for them at most {@code timeout}.
   *
   * @throws IOException on a socket error or if they did not come in time
   */
  byte[] peek(int fd, int n, Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    try (var arena = Arena.ofConfined()) {
      var buf = arena.allocate(n);
      var state = arena.allocate(CALL_STATE);
      long pause = 1;
      while (true) {
        long got = (long) recv.invokeExact(state, fd, buf, (long) n, MSG_PEEK | MSG_DONTWAIT);
        if (got == n || got == 0) {
          return Arrays.copyOf(buf.toArray(ValueLayout.JAVA_BYTE), (int) got);
        }
        if (got < 0) {
          int errno = (int) ERRNO.get(state, 0L);
          if (errno != EAGAIN && errno != EINTR) {
            throw new IOException("recv(MSG_PEEK) of socket " + fd + " failed: errno " + errno);
          }
        }
        // fewer bytes than asked so far: wait for more (a BEGIN record is a few hundred bytes,
        // sent at once; this waits only while zfs send starts)
        if (System.nanoTime() > deadline) {
          throw new IOException(
              "the stream's first " + n + " bytes did not arrive within " + timeout);
        }
        Thread.sleep(pause);
        pause = Math.min(20, pause * 2);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("waiting for the stream's first bytes");
    } catch (IOException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("recv failed", t);
    }
  }

  /** Ends the sending direction: the peer reads the end of the stream. */
  void shutdownOutput(int fd) {
    shutdown(fd, SHUT_WR);
  }

  /** Ends both directions: a child reading or writing the socket sees its end at once. */
  void shutdownBoth(int fd) {
    shutdown(fd, SHUT_RDWR);
  }

  private void shutdown(int fd, int how) {
    try {
      int rc = (int) shutdown.invokeExact(fd, how);
      if (rc != 0) {
        log.debug("shutdown({}, {}) failed (not connected any more)", fd, how);
      }
    } catch (Throwable t) {
      throw new IllegalStateException("shutdown failed", t);
    }
  }
}
