package dev.zrepl4j.rpc;

import java.io.IOException;
import org.jspecify.annotations.Nullable;

/**
 * The peer refused this client while the connection was being set up — its certificate, CN or ssh
 * key was not accepted, or the server is not who it should be. Unlike a network error, dialing
 * again will not help until someone changes a configuration, so callers do not retry it.
 */
public class RefusedException extends IOException {
  private static final long serialVersionUID = 1L;

  public RefusedException(String message, @Nullable Throwable cause) {
    super(message, cause);
  }
}
