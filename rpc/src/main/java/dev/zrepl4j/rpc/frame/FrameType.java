package dev.zrepl4j.rpc.frame;

import java.net.ProtocolException;

/**
 * The type byte of a frame. Values are the seed's wire values; {@link #KEEPALIVE} is negotiated.
 */
public enum FrameType {
  /** A frame of a header message (JSON RPC header, at most 4096 bytes per message). */
  HEADER(0x01),
  /** A frame of a data message (JSON body or octet stream). */
  DATA(0x02),
  /** End-of-stream status after an octet body (extension, protocol version 1). */
  TRAILER(0x03),
  /** Keep-alive: carries nothing, may appear between any two frames (extension, version 1). */
  KEEPALIVE(0x04),
  /** Reset: the peer aborted the connection. */
  RST(0xFF);

  private final int wire;

  FrameType(int wire) {
    this.wire = wire;
  }

  /** The byte written on the wire. */
  public int wire() {
    return wire;
  }

  /**
   * Decodes a type byte.
   *
   * @throws ProtocolException for a byte that names no frame type
   */
  public static FrameType of(int b) throws ProtocolException {
    return switch (b & 0xFF) {
      case 0x01 -> HEADER;
      case 0x02 -> DATA;
      case 0x03 -> TRAILER;
      case 0x04 -> KEEPALIVE;
      case 0xFF -> RST;
      default -> throw new ProtocolException(String.format("unknown frame type 0x%02x", b & 0xFF));
    };
  }
}
