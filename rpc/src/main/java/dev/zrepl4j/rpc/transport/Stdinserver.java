package dev.zrepl4j.rpc.transport;

import dev.zrepl4j.rpc.RpcServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The serve side of {@code ssh+stdinserver}. The daemon {@linkplain #listen listens} on one Unix
 * socket per client identity in the sockdir; sshd runs the forced command {@code zrepl4j
 * stdinserver ID} for a client's key, which {@linkplain #relay relays} its stdin/stdout to the
 * socket named ID. The socket a connection arrives on is its identity; the file system's
 * permissions are the only protection of the sockets: the sockdir must be accessible to its owner
 * only (stricter than zrepl, which refuses only a world-accessible one), and each socket has mode
 * 0600 from the moment it appears ({@link RpcServer#listenUnix}). Stateless.
 *
 * <p>(zrepl passes the stdio file descriptors over the socket instead of copying; the JDK cannot
 * pass descriptors, so the relay copies both directions.)
 */
public final class Stdinserver {
  private static final Logger log = LoggerFactory.getLogger(Stdinserver.class);
  private static final Set<PosixFilePermission> OWNER =
      EnumSet.of(
          PosixFilePermission.OWNER_READ,
          PosixFilePermission.OWNER_WRITE,
          PosixFilePermission.OWNER_EXECUTE);

  private Stdinserver() {}

  /**
   * Creates {@code sockdir} (mode 0700, parents included) if it is missing and listens on {@code
   * sockdir/ID} for each identity; a connection there is served with that identity. Closing the
   * result closes the sockets (and removes their files); connections being served go on.
   *
   * @throws IOException if the sockdir is accessible to group or others, not a directory, or a
   *     socket cannot be bound
   * @throws IllegalArgumentException for an invalid or duplicate identity, naming it
   */
  public static AutoCloseable listen(RpcServer server, Path sockdir, List<String> clientIdentities)
      throws IOException {
    var ids = new LinkedHashSet<String>();
    for (String id : clientIdentities) {
      Identities.require("stdinserver client_identities", id);
      if (!ids.add(id)) {
        throw new IllegalArgumentException(
            "stdinserver client_identities: '" + id + "' is listed twice");
      }
    }
    prepareSockdir(sockdir);
    var listeners = new ArrayList<AutoCloseable>();
    AutoCloseable all =
        () -> {
          Exception first = null;
          for (int i = listeners.size() - 1; i >= 0; i--) {
            try {
              listeners.get(i).close();
            } catch (Exception e) {
              if (first == null) {
                first = e;
              } else {
                first.addSuppressed(e);
              }
            }
          }
          listeners.clear();
          if (first != null) {
            throw first;
          }
        };
    try {
      for (String id : ids) {
        listeners.add(server.listenUnix(sockdir.resolve(id), id));
      }
    } catch (IOException | RuntimeException e) {
      try {
        all.close();
      } catch (Exception f) {
        e.addSuppressed(f);
      }
      throw e;
    }
    log.info("stdinserver: listening in {} for {}", sockdir, ids);
    return all;
  }

  /**
   * Makes {@code sockdir} a directory only its owner can reach: creates it with mode 0700, or
   * checks that an existing one has no permissions for group or others.
   */
  static void prepareSockdir(Path sockdir) throws IOException {
    if (!Files.exists(sockdir, LinkOption.NOFOLLOW_LINKS)) {
      Files.createDirectories(
          sockdir,
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      // the umask may have cleared bits, never added: set exactly 0700
      Files.setPosixFilePermissions(sockdir, PosixFilePermissions.fromString("rwx------"));
      return;
    }
    if (!Files.isDirectory(sockdir)) {
      throw new IOException("stdinserver sockdir " + sockdir + " is not a directory");
    }
    Set<PosixFilePermission> perms = Files.getPosixFilePermissions(sockdir);
    for (PosixFilePermission p : perms) {
      if (!OWNER.contains(p)) {
        throw new IOException(
            "stdinserver sockdir "
                + sockdir
                + " must not be accessible to group or others (permissions are "
                + PosixFilePermissions.toString(perms)
                + "); chmod 0700 it");
      }
    }
  }

  /** {@link #relay(Path, String, InputStream, OutputStream, PrintStream)} to standard error. */
  public static int relay(Path sockdir, String identity, InputStream in, OutputStream out) {
    return relay(sockdir, identity, in, out, System.err);
  }

  /**
   * The forced command's work: connects to {@code sockdir/identity} and copies {@code in} to the
   * socket and the socket to {@code out} until the daemon ends the connection (or {@code in} ends
   * and the daemon then closes). Blocks. Closes neither stream.
   *
   * @return the exit status: 0 when the connection ended cleanly; 1, with a message on {@code err},
   *     when the identity is invalid, the socket is missing or the copy fails
   */
  public static int relay(
      Path sockdir, String identity, InputStream in, OutputStream out, PrintStream err) {
    var problem = Identities.problem(identity);
    if (problem.isPresent()) {
      err.println(
          "zrepl4j stdinserver: invalid client identity '" + identity + "': " + problem.get());
      return 1;
    }
    Path socket = sockdir.resolve(identity);
    SocketChannel ch;
    try {
      ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    } catch (IOException e) {
      err.println("zrepl4j stdinserver: " + e.getMessage());
      return 1;
    }
    try (ch) {
      try {
        ch.connect(UnixDomainSocketAddress.of(socket));
      } catch (IOException e) {
        String why =
            e instanceof NoSuchFileException || !Files.exists(socket)
                ? "no such socket"
                : e.getMessage();
        err.println(
            "zrepl4j stdinserver: cannot connect to "
                + socket
                + ": "
                + why
                + " (is the daemon running, is "
                + identity
                + " in client_identities?)");
        return 1;
      }
      // stdin -> socket on its own (daemon) thread: a read of stdin cannot be interrupted
      Thread.ofVirtual()
          .name("stdinserver-in")
          .start(
              () -> {
                byte[] b = new byte[64 * 1024];
                try {
                  int n;
                  while ((n = in.read(b)) >= 0) {
                    var buf = ByteBuffer.wrap(b, 0, n);
                    while (buf.hasRemaining()) {
                      ch.write(buf);
                    }
                  }
                  ch.shutdownOutput();
                } catch (IOException e) {
                  // the daemon closed the socket (the main copy ends too), or stdin failed
                  try {
                    ch.close();
                  } catch (IOException f) {
                    e.addSuppressed(f);
                  }
                }
              });
      // socket -> stdout here, until the daemon closes
      ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
      try {
        while (ch.read(buf.clear()) >= 0) {
          out.write(buf.array(), 0, buf.position());
          out.flush();
        }
      } catch (IOException e) {
        if (!ch.isOpen()) {
          return 0; // stdin side ended and closed the socket
        }
        err.println("zrepl4j stdinserver: relay for " + identity + " failed: " + e.getMessage());
        return 1;
      }
      return 0;
    } catch (IOException e) {
      err.println("zrepl4j stdinserver: " + e.getMessage());
      return 1;
    }
  }
}
