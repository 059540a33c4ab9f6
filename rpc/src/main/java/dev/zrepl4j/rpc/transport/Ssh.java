package dev.zrepl4j.rpc.transport;

import dev.zrepl4j.rpc.RefusedException;
import dev.zrepl4j.rpc.RpcClient;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.Transport;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The connect side of {@code ssh+stdinserver}: runs {@code ssh} and speaks RPC over its stdin and
 * stdout. The server's {@code authorized_keys} forces the command ({@code command="zrepl4j
 * stdinserver ID",restrict}), which relays the stream to the daemon's socket for client ID, so the
 * command this side asks for is ignored. Stateless; see {@link #dial}.
 */
public final class Ssh {
  private static final Logger log = LoggerFactory.getLogger(Ssh.class);

  /** How much of ssh's stderr is kept for error messages (the tail). */
  static final int STDERR_TAIL = 8 * 1024;

  /** How long ssh may take to exit by itself once its stdin is closed, before SIGTERM. */
  static final Duration EXIT_GRACE = Duration.ofMillis(500);

  private Ssh() {}

  /** The ssh command line of a dial. */
  static List<String> command(SshSettings s, Duration dialTimeout) {
    var cmd = new ArrayList<String>();
    cmd.add("ssh");
    cmd.add("-p");
    cmd.add(Integer.toString(s.port()));
    cmd.add("-T");
    cmd.add("-i");
    cmd.add(s.identityFile().toString());
    cmd.add("-o");
    cmd.add("BatchMode=yes");
    cmd.add("-o");
    cmd.add("ConnectTimeout=" + Math.max(1, (dialTimeout.toMillis() + 999) / 1000));
    for (String o : s.options()) {
      cmd.add("-o");
      cmd.add(o);
    }
    cmd.add(s.user() + "@" + s.host());
    cmd.add("zrepl4j-stdinserver");
    return cmd;
  }

  /**
   * Runs ssh and opens an RPC client over its stdin/stdout; the caller closes the client, which
   * kills ssh and reaps it.
   *
   * @param dialTimeout bounds ssh's connect and the whole dial (ssh is killed when it passes)
   * @throws IOException if ssh cannot be started, or the connection fails: the message includes the
   *     tail of ssh's stderr ("Permission denied (publickey)", "Connection refused", ...)
   */
  public static RpcClient dial(SshSettings s, Duration dialTimeout, RpcOptions options)
      throws IOException {
    List<String> cmd = command(s, dialTimeout);
    String remote = "ssh:" + s.user() + "@" + s.host() + ":" + s.port();
    log.debug("{}: running {}", remote, cmd);
    Process p = new ProcessBuilder(cmd).start();
    var stderr = new Tail(STDERR_TAIL);
    Thread drainer =
        Thread.ofVirtual().name("ssh-stderr").start(() -> stderr.drain(p.getErrorStream()));
    var transport =
        Transport.of(
            p.getInputStream(),
            p.getOutputStream(),
            remote,
            () -> {
              kill(p);
              joinQuietly(drainer);
            });
    var state = new AtomicInteger(); // 0 dialing, 1 dialed or failed, 2 timed out
    Thread watchdog =
        Thread.ofVirtual()
            .name("ssh-dial-watchdog")
            .start(
                () -> {
                  try {
                    Thread.sleep(dialTimeout);
                  } catch (InterruptedException e) {
                    return;
                  }
                  if (state.compareAndSet(0, 2)) {
                    p.destroyForcibly();
                  }
                });
    try {
      return RpcClient.connect(transport, options);
    } catch (IOException | RuntimeException e) {
      boolean timedOut = !state.compareAndSet(0, 1);
      transport.close(); // kills and reaps ssh, waits for its stderr
      String tail = stderr.text().strip();
      // a key or host key the other side does not accept: dialing again will not help
      boolean refused =
          !timedOut
              && (tail.contains("Permission denied")
                  || tail.contains("Host key verification failed"));
      String message =
          remote
              + ": "
              + (timedOut ? "no connection within " + dialTimeout + ": " : "")
              + "ssh failed"
              + exitStatus(p)
              + (tail.isEmpty() ? "" : ": " + tail)
              + " ("
              + e.getMessage()
              + ")";
      throw refused ? new RefusedException(message, e) : new IOException(message, e);
    } finally {
      state.compareAndSet(0, 1);
      watchdog.interrupt();
    }
  }

  private static String exitStatus(Process p) {
    return p.isAlive() ? "" : " (exit status " + p.exitValue() + ")";
  }

  /**
   * Closes ssh's stdin (a clean end) and gives ssh {@link #EXIT_GRACE} to exit by itself, then
   * terminates it and reaps it: no zombie is left.
   */
  static void kill(Process p) {
    try {
      p.getOutputStream().close();
    } catch (IOException e) {
      log.debug("ssh: closing stdin: {}", e.toString());
    }
    try {
      // When a dial fails, ssh is usually ending by itself (authentication refused, the forced
      // command exited); a SIGTERM at once made it exit 255, sometimes before it wrote its
      // stderr, so the error named neither the real exit status nor the reason.
      if (!p.waitFor(EXIT_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroy();
      }
      if (!p.waitFor(2, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        p.waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
    }
  }

  private static void joinQuietly(Thread t) {
    try {
      t.join(Duration.ofSeconds(2));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The last {@code limit} bytes of a stream. Thread-safe. */
  static final class Tail {
    private final int limit;
    private final ByteArrayOutputStream buf = new ByteArrayOutputStream();
    private boolean truncated;

    Tail(int limit) {
      this.limit = limit;
    }

    void drain(InputStream in) {
      byte[] b = new byte[4096];
      try (in) {
        int n;
        while ((n = in.read(b)) >= 0) {
          append(b, n);
        }
      } catch (IOException e) {
        log.debug("ssh: stderr: {}", e.toString());
      }
    }

    private synchronized void append(byte[] b, int n) {
      buf.write(b, 0, n);
      if (buf.size() > 2 * limit) {
        byte[] all = buf.toByteArray();
        buf.reset();
        buf.write(all, all.length - limit, limit);
        truncated = true;
      }
    }

    synchronized String text() {
      byte[] all = buf.toByteArray();
      int from = Math.max(0, all.length - limit);
      String s = new String(all, from, all.length - from, StandardCharsets.UTF_8);
      return truncated || from > 0 ? "..." + s : s;
    }
  }
}
