package dev.zrepl4j.rpc;

import java.time.Duration;

/**
 * Limits and timeouts of RPC connections, the same record for clients and servers.
 *
 * <p>With a peer that negotiated protocol version 1 each side adapts its timings to the peer's
 * hello: keep-alives go out at least every third of the peer's read timeout, the read timeout is at
 * least twice the peer's keep-alive interval, and an idle client pings at least every third of the
 * server's idle timeout (never weakening the values set here).
 *
 * @param bufferSize per-connection frame buffer (read and write each) while the connection carries
 *     a stream; until its first stream it holds 16 KiB each way; larger payload writes and reads
 *     bypass it
 * @param maxJsonBody largest JSON body accepted (checked before it is read)
 * @param readTimeout how long a side waits, inside a message, for a peer that sends nothing
 *     (keep-alive frames count; for seed peers it applies only to request bodies); zero disables
 * @param idleTimeout a server closes a connection that sends no request for this long; zero
 *     disables
 * @param keepAlive a side that negotiated protocol version 1 sends a keep-alive frame when it wrote
 *     nothing for this long during a call; an idle client pings the server at this rate
 * @param seedOnly speak only the seed protocol: no negotiation, no extensions
 * @param maxConnections most connections a server serves at once (more wait in the accept queue);
 *     one client identity gets at most a quarter of them ({@link #maxConnectionsPerClient()})
 * @param directData offer the direct data path (docs/DIRECT-PATH.md) on plain TCP: a stream's bytes
 *     go on a connection of their own, written and read by child processes; both sides must offer
 *     it. Default: on, unless the system property {@code zrepl4j.rpc.directData} is {@code false}
 */
public record RpcOptions(
    int bufferSize,
    int maxJsonBody,
    Duration readTimeout,
    Duration idleTimeout,
    Duration keepAlive,
    boolean seedOnly,
    int maxConnections,
    boolean directData) {

  public RpcOptions(
      int bufferSize,
      int maxJsonBody,
      Duration readTimeout,
      Duration idleTimeout,
      Duration keepAlive,
      boolean seedOnly,
      int maxConnections) {
    this(
        bufferSize,
        maxJsonBody,
        readTimeout,
        idleTimeout,
        keepAlive,
        seedOnly,
        maxConnections,
        !"false".equals(System.getProperty("zrepl4j.rpc.directData")));
  }

  public RpcOptions {
    if (bufferSize < 16 * 1024) {
      throw new IllegalArgumentException("bufferSize " + bufferSize + " < 16 KiB");
    }
    if (maxJsonBody < 1024) {
      throw new IllegalArgumentException("maxJsonBody " + maxJsonBody + " < 1 KiB");
    }
    if (readTimeout.isNegative() || idleTimeout.isNegative()) {
      throw new IllegalArgumentException("negative timeout");
    }
    if (keepAlive.isNegative() || keepAlive.isZero()) {
      throw new IllegalArgumentException("keepAlive must be positive");
    }
    if (!readTimeout.isZero() && readTimeout.compareTo(keepAlive.multipliedBy(2)) < 0) {
      throw new IllegalArgumentException(
          "readTimeout " + readTimeout + " must be at least twice keepAlive " + keepAlive);
    }
    if (maxConnections < 1) {
      throw new IllegalArgumentException("maxConnections " + maxConnections + " < 1");
    }
  }

  /**
   * Most connections one client identity may hold at once: a quarter of {@link #maxConnections} (at
   * least 1), so one client that opens connections and sends nothing cannot take every slot of a
   * server that others need; its connections beyond this are closed at once.
   */
  public int maxConnectionsPerClient() {
    return Math.max(1, maxConnections / 4);
  }

  /** 1 MiB buffers, 64 MiB JSON, 60 s read timeout, 10 min idle, 10 s keep-alive, 256 conns. */
  public static RpcOptions defaults() {
    return new RpcOptions(
        1024 * 1024,
        64 * 1024 * 1024,
        Duration.ofSeconds(60),
        Duration.ofMinutes(10),
        Duration.ofSeconds(10),
        false,
        256);
  }

  public RpcOptions withTimeouts(Duration read, Duration idle, Duration keepAlive) {
    return new RpcOptions(
        bufferSize, maxJsonBody, read, idle, keepAlive, seedOnly, maxConnections, directData);
  }

  public RpcOptions withBufferSize(int bytes) {
    return new RpcOptions(
        bytes,
        maxJsonBody,
        readTimeout,
        idleTimeout,
        keepAlive,
        seedOnly,
        maxConnections,
        directData);
  }

  public RpcOptions withMaxJsonBody(int bytes) {
    return new RpcOptions(
        bufferSize,
        bytes,
        readTimeout,
        idleTimeout,
        keepAlive,
        seedOnly,
        maxConnections,
        directData);
  }

  public RpcOptions withSeedOnly(boolean seed) {
    return new RpcOptions(
        bufferSize,
        maxJsonBody,
        readTimeout,
        idleTimeout,
        keepAlive,
        seed,
        maxConnections,
        directData);
  }

  /** The same options, offering the direct data path or not. */
  public RpcOptions withDirectData(boolean direct) {
    return new RpcOptions(
        bufferSize,
        maxJsonBody,
        readTimeout,
        idleTimeout,
        keepAlive,
        seedOnly,
        maxConnections,
        direct);
  }

  public RpcOptions withMaxConnections(int n) {
    return new RpcOptions(
        bufferSize, maxJsonBody, readTimeout, idleTimeout, keepAlive, seedOnly, n, directData);
  }
}
