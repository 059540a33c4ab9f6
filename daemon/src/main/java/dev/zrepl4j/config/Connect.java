package dev.zrepl4j.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** {@code connect:} of an active job: how to reach the passive side. */
public sealed interface Connect {
  Duration dialTimeout();

  /** {@code type: tcp}. */
  record Tcp(String host, int port, Duration dialTimeout) implements Connect {}

  /** {@code type: tls}: mutual TLS; the server's certificate must name {@code serverCn}. */
  record Tls(
      String host, int port, Path ca, Path cert, Path key, String serverCn, Duration dialTimeout)
      implements Connect {}

  /**
   * {@code type: ssh+stdinserver}: runs ssh, whose forced command is {@code zrepl4j stdinserver ID}
   * on the other side.
   *
   * @param options each becomes {@code ssh -o OPTION}
   */
  record Ssh(
      String host,
      String user,
      int port,
      Path identityFile,
      List<String> options,
      Duration dialTimeout)
      implements Connect {
    public Ssh {
      options = List.copyOf(options);
    }
  }

  /** {@code type: local}: a sink or source in the same daemon. */
  record Local(String listenerName, String clientIdentity, Duration dialTimeout)
      implements Connect {}
}
