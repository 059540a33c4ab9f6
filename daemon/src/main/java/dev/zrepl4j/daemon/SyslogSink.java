package dev.zrepl4j.daemon;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * The syslog outlet's sink: one datagram per entry to the local syslog socket, in the format Go's
 * {@code log/syslog} uses for it ({@code <PRI>Mmm dd hh:mm:ss zrepl[PID]: message}), so rsyslog and
 * journald file it under the program name {@code zrepl} with the configured facility and the
 * entry's severity. Used by one thread; {@link #close()} from any.
 */
final class SyslogSink implements OutletSink {
  /*
   * Implementation notes. The local syslog socket (/dev/log, rsyslog's imuxsock or journald's
   * socket) is a Unix DATAGRAM socket. The JDK's Unix-domain channels (SocketChannel with
   * UnixDomainSocketAddress) speak only SOCK_STREAM, and DatagramChannel has no Unix-domain
   * support, so a connect from the JDK fails with "Protocol wrong type for socket". logback's
   * SyslogAppender sends UDP to a host and port, which a default rsyslog does not listen on. So
   * this class calls libc through the FFM API (final since Java 22): socket(AF_UNIX, SOCK_DGRAM),
   * connect, send, close, with a send timeout (SO_SNDTIMEO) so that a syslog daemon that stops
   * reading holds this outlet's thread for at most a second per entry, never a job. Like Go's
   * log/syslog it tries /dev/log, /var/run/syslog and /var/run/log in turn.
   */
  static final List<Path> DEFAULT_SOCKETS =
      List.of(Path.of("/dev/log"), Path.of("/var/run/syslog"), Path.of("/var/run/log"));

  private static final int AF_UNIX = 1;
  private static final int SOCK_DGRAM = 2;
  private static final int SOCK_CLOEXEC = 0x80000;
  private static final int SOL_SOCKET = 1;
  private static final int SO_SNDTIMEO = 21;
  private static final int MSG_NOSIGNAL = 0x4000;
  private static final int EINTR = 4;
  private static final int EAGAIN = 11;
  private static final DateTimeFormatter STAMP =
      DateTimeFormatter.ofPattern("MMM ppd HH:mm:ss", Locale.ROOT);

  private final List<Path> sockets;
  private final int facility;
  private final String tag;
  private final ZoneId zone;
  private int fd = -1;
  private String connectedTo = "";

  /**
   * @param sockets the socket paths to try, in order
   * @param facility the facility name (kern ... local7)
   * @param tag the program name in each message
   */
  SyslogSink(List<Path> sockets, String facility, String tag, ZoneId zone) {
    this.sockets = List.copyOf(sockets);
    this.facility = facilityCode(facility);
    this.tag = tag;
    this.zone = zone;
  }

  /** The numeric facility of its name, as in syslog.h. */
  static int facilityCode(String name) {
    return switch (name) {
      case "kern" -> 0;
      case "user" -> 1;
      case "mail" -> 2;
      case "daemon" -> 3;
      case "auth" -> 4;
      case "syslog" -> 5;
      case "lpr" -> 6;
      case "news" -> 7;
      case "uucp" -> 8;
      case "cron" -> 9;
      case "authpriv" -> 10;
      case "ftp" -> 11;
      default -> {
        if (name.matches("local[0-7]")) {
          yield 16 + (name.charAt(5) - '0');
        }
        throw new IllegalArgumentException("unknown syslog facility '" + name + "'");
      }
    };
  }

  /** The datagram for one entry. */
  String message(LogEntry.Level level, String line, LocalDateTime now, long pid) {
    int pri = facility * 8 + level.syslogSeverity();
    return "<" + pri + ">" + STAMP.format(now) + " " + tag + "[" + pid + "]: " + line;
  }

  @Override
  public synchronized boolean isOpen() {
    return fd >= 0;
  }

  @Override
  public void open() throws IOException {
    var n = Native.get();
    var errors = new StringBuilder();
    for (var p : sockets) {
      int s = n.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      try {
        n.sendTimeout(s, 1);
        n.connect(s, p);
      } catch (IOException e) {
        n.closeQuietly(s);
        errors.append(errors.isEmpty() ? "" : "; ").append(e.getMessage());
        continue;
      }
      synchronized (this) {
        fd = s;
        connectedTo = p.toString();
      }
      return;
    }
    throw new IOException("cannot connect to the local syslog socket: " + errors);
  }

  @Override
  public void write(LogEntry.Level level, String line) throws IOException {
    int s;
    synchronized (this) {
      s = fd;
    }
    if (s < 0) {
      throw new IOException("syslog socket is closed");
    }
    byte[] msg =
        message(level, line, LocalDateTime.now(zone), ProcessHandle.current().pid())
            .getBytes(StandardCharsets.UTF_8);
    try {
      Native.get().send(s, msg);
    } catch (IOException e) {
      close();
      throw e;
    }
  }

  @Override
  public synchronized String describe() {
    return "syslog " + (connectedTo.isEmpty() ? sockets.getFirst().toString() : connectedTo);
  }

  @Override
  public void close() {
    int s;
    synchronized (this) {
      s = fd;
      fd = -1;
    }
    if (s >= 0) {
      var n = Holder.INSTANCE;
      if (n != null) {
        n.closeQuietly(s);
      }
    }
  }

  private static final class Holder {
    static final @Nullable Native INSTANCE;
    static final String REASON;

    static {
      Native n = null;
      String reason = "";
      try {
        n = Native.load();
      } catch (RuntimeException e) {
        // IllegalCallerException when native access is denied (--enable-native-access missing)
        reason = e.toString();
      }
      INSTANCE = n;
      REASON = reason;
    }
  }

  /** libc's socket calls. */
  private record Native(
      MethodHandle socket,
      MethodHandle connect,
      MethodHandle send,
      MethodHandle setsockopt,
      MethodHandle close,
      MethodHandle strerror,
      StructLayout state,
      VarHandle errno) {

    static Native get() throws IOException {
      var n = Holder.INSTANCE;
      if (n == null) {
        throw new IOException("cannot call libc for the syslog socket: " + Holder.REASON);
      }
      return n;
    }

    static Native load() {
      var linker = Linker.nativeLinker();
      var libc = linker.defaultLookup();
      var state = Linker.Option.captureStateLayout();
      var errno = state.varHandle(MemoryLayout.PathElement.groupElement("errno"));
      var capture = Linker.Option.captureCallState("errno");
      var i = ValueLayout.JAVA_INT;
      var a = ValueLayout.ADDRESS;
      return new Native(
          linker.downcallHandle(
              libc.findOrThrow("socket"), FunctionDescriptor.of(i, i, i, i), capture),
          linker.downcallHandle(
              libc.findOrThrow("connect"), FunctionDescriptor.of(i, i, a, i), capture),
          linker.downcallHandle(
              libc.findOrThrow("send"),
              FunctionDescriptor.of(ValueLayout.JAVA_LONG, i, a, ValueLayout.JAVA_LONG, i),
              capture),
          linker.downcallHandle(
              libc.findOrThrow("setsockopt"), FunctionDescriptor.of(i, i, i, i, a, i), capture),
          linker.downcallHandle(libc.findOrThrow("close"), FunctionDescriptor.of(i, i)),
          linker.downcallHandle(libc.findOrThrow("strerror"), FunctionDescriptor.of(a, i)),
          state,
          errno);
    }

    private String error(String call, MemorySegment st) {
      int e = (int) errno.get(st, 0L);
      String text;
      try {
        var p = (MemorySegment) strerror.invokeExact(e);
        text = p.reinterpret(1024).getString(0);
      } catch (Throwable t) {
        text = "errno " + e;
      }
      return call + ": " + text;
    }

    int socket(int domain, int type, int protocol) throws IOException {
      try (var arena = Arena.ofConfined()) {
        var st = arena.allocate(state);
        int fd = (int) socket.invokeExact(st, domain, type, protocol);
        if (fd < 0) {
          throw new IOException(error("socket(AF_UNIX, SOCK_DGRAM)", st));
        }
        return fd;
      } catch (IOException | RuntimeException e) {
        throw e;
      } catch (Throwable t) {
        throw new IllegalStateException("socket(2) failed", t);
      }
    }

    void connect(int fd, Path path) throws IOException {
      byte[] p = path.toString().getBytes(StandardCharsets.UTF_8);
      if (p.length >= 108) {
        throw new IOException(path + ": path too long for a Unix socket");
      }
      try (var arena = Arena.ofConfined()) {
        var addr = arena.allocate(110);
        addr.set(ValueLayout.JAVA_SHORT, 0, (short) AF_UNIX);
        MemorySegment.copy(p, 0, addr, ValueLayout.JAVA_BYTE, 2, p.length);
        var st = arena.allocate(state);
        int r = (int) connect.invokeExact(st, fd, addr, 2 + p.length + 1);
        if (r != 0) {
          throw new IOException(error("connect " + path, st));
        }
      } catch (IOException | RuntimeException e) {
        throw e;
      } catch (Throwable t) {
        throw new IllegalStateException("connect(2) failed", t);
      }
    }

    void sendTimeout(int fd, int seconds) throws IOException {
      try (var arena = Arena.ofConfined()) {
        var tv = arena.allocate(16);
        tv.set(ValueLayout.JAVA_LONG, 0, seconds);
        tv.set(ValueLayout.JAVA_LONG, 8, 0L);
        var st = arena.allocate(state);
        int r = (int) setsockopt.invokeExact(st, fd, SOL_SOCKET, SO_SNDTIMEO, tv, 16);
        if (r != 0) {
          throw new IOException(error("setsockopt(SO_SNDTIMEO)", st));
        }
      } catch (IOException | RuntimeException e) {
        throw e;
      } catch (Throwable t) {
        throw new IllegalStateException("setsockopt(2) failed", t);
      }
    }

    void send(int fd, byte[] msg) throws IOException {
      try (var arena = Arena.ofConfined()) {
        var buf = arena.allocateFrom(ValueLayout.JAVA_BYTE, msg);
        var st = arena.allocate(state);
        while (true) {
          long r = (long) send.invokeExact(st, fd, buf, (long) msg.length, MSG_NOSIGNAL);
          if (r >= 0) {
            return;
          }
          int e = (int) errno.get(st, 0L);
          if (e == EINTR) {
            continue;
          }
          if (e == EAGAIN) {
            throw new IOException("send: the syslog daemon read nothing for 1 s");
          }
          throw new IOException(error("send", st));
        }
      } catch (IOException | RuntimeException e) {
        throw e;
      } catch (Throwable t) {
        throw new IllegalStateException("send(2) failed", t);
      }
    }

    void closeQuietly(int fd) {
      try {
        int r = (int) close.invokeExact(fd);
        assert r == 0 || r == -1;
      } catch (Throwable t) {
        throw new IllegalStateException("close(2) failed", t);
      }
    }
  }
}
