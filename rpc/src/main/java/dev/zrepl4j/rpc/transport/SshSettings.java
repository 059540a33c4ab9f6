package dev.zrepl4j.rpc.transport;

import java.nio.file.Path;
import java.util.List;

/**
 * An {@code ssh+stdinserver} connect.
 *
 * @param host the ssh server
 * @param user the login user, whose {@code authorized_keys} forces {@code zrepl4j stdinserver ID}
 * @param port the ssh port
 * @param identityFile the private key ssh authenticates with
 * @param options extra {@code ssh -o} options, each {@code Key=value}
 */
public record SshSettings(
    String host, String user, int port, Path identityFile, List<String> options) {
  public SshSettings {
    options = List.copyOf(options);
    if (host.isEmpty() || host.startsWith("-")) {
      throw new IllegalArgumentException("ssh: bad host '" + host + "'");
    }
    if (user.isEmpty() || user.startsWith("-") || user.contains("@")) {
      throw new IllegalArgumentException("ssh: bad user '" + user + "'");
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("ssh: port " + port + " out of range");
    }
  }
}
