package dev.zrepl4j.rpc;

/**
 * Who is calling: an endpoint method declares a parameter of this type to learn it. The identity
 * comes from the transport (TCP peer address mapping, TLS client certificate, ssh forced command,
 * local configuration); endpoints base every access decision on it.
 *
 * @param identity the client identity, as configured
 * @param remote a description of the peer for logs (address, "local", "stdio")
 */
public record Caller(String identity, String remote) {
  public Caller {
    if (identity.isEmpty()) {
      throw new IllegalArgumentException("empty client identity");
    }
  }

  @Override
  public String toString() {
    return identity + "@" + remote;
  }
}
