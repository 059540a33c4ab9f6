package dev.zrepl4j.rpc.frame;

import java.net.ProtocolException;

/** The peer sent an RST frame: it aborted the connection (the seed's {@code RST} sentinel). */
public final class ResetException extends ProtocolException {
  private static final long serialVersionUID = 1L;

  public ResetException() {
    super("reset frame observed on connection");
  }
}
