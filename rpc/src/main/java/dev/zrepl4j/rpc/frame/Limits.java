package dev.zrepl4j.rpc.frame;

/** Size limits of the wire format (the seed's constants). */
public final class Limits {
  /** Size of a frame header: type, final flag, 32-bit little-endian payload length. */
  public static final int FRAME_HEADER_SIZE = 6;

  /** Largest payload of one frame: 4 MiB. */
  public static final int MAX_PAYLOAD = 4 * 1024 * 1024;

  /** Largest header message (all its frames together): 4 KiB. */
  public static final int MAX_HEADER_MESSAGE = 4096;

  private Limits() {}
}
