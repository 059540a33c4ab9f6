package dev.zrepl4j.rpc;

import java.io.IOException;
import org.jspecify.annotations.Nullable;

/** An error the peer returned for a call: its code and its message. */
public final class RemoteException extends IOException {
  private static final long serialVersionUID = 1L;

  private final ErrorCode code;

  public RemoteException(ErrorCode code, String message) {
    super(message);
    this.code = code;
  }

  public RemoteException(ErrorCode code, String message, @Nullable Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  @Override
  public String getMessage() {
    String m = super.getMessage();
    return m == null ? "" : m;
  }

  /** Why the call failed. */
  public ErrorCode code() {
    return code;
  }

  @Override
  public String toString() {
    return "RemoteException(" + code + "): " + getMessage();
  }
}
