package dev.zrepl4j.rpc;

/**
 * Why a call failed, as a short closed set (like gRPC's status codes). Travels on the wire as the
 * seed's numeric status plus, with peers that negotiated protocol version 1, this code's name.
 */
public enum ErrorCode {
  /** The request is malformed or names something the caller may not touch. */
  INVALID_ARGUMENT(Status.REQUEST_ERROR),
  /** The endpoint or the object the request names does not exist. */
  NOT_FOUND(Status.REQUEST_ERROR),
  /** The request is valid but the state of the system does not allow it. */
  FAILED_PRECONDITION(Status.REQUEST_ERROR),
  /** Temporarily unavailable: retrying may succeed. */
  UNAVAILABLE(Status.ERROR),
  /** The operation was cancelled. */
  CANCELLED(Status.ERROR),
  /** A fault of the server. */
  INTERNAL(Status.SERVER_ERROR),
  /** The handler failed and said nothing more (the seed's status 4 for every handler error). */
  UNKNOWN(Status.ERROR);

  private final Status status;

  ErrorCode(Status status) {
    this.status = status;
  }

  /** The seed status this code is sent as. */
  Status status() {
    return status;
  }

  /** The code for a seed status received without a code name. */
  static ErrorCode of(Status s) {
    return switch (s) {
      case REQUEST_ERROR -> INVALID_ARGUMENT;
      case SERVER_ERROR -> INTERNAL;
      case OK, NONE, ERROR -> UNKNOWN;
    };
  }
}
