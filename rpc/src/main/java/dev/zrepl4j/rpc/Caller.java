package dev.zrepl4j.rpc;

/**
 * Who is calling: an endpoint method declares a parameter of this type to learn it. The identity
 * comes from the transport (TCP peer address mapping, TLS client certificate, ssh forced command,
 * local configuration); endpoints base every access decision on it.
 *
 * @param identity the client identity, as configured
 * @param remote a description of the peer for logs (address, "local", "stdio")
 * @param directData this call's stream (its response or its body) goes on a data connection of its
 *     own (docs/DIRECT-PATH.md): an endpoint that returns a stream may return a {@link
 *     DirectSource}, whose writer then writes into the connection itself
 */
public record Caller(String identity, String remote, boolean directData) {
  public Caller {
    if (identity.isEmpty()) {
      throw new IllegalArgumentException("empty client identity");
    }
  }

  public Caller(String identity, String remote) {
    this(identity, remote, false);
  }

  /** This caller, for a call whose stream goes on a data connection. */
  Caller withDirectData() {
    return new Caller(identity, remote, true);
  }

  @Override
  public String toString() {
    return identity + "@" + remote;
  }
}
