package dev.zrepl4j.rpc;

/** The seed's body types ({@code DataType} / {@code Accept} header keys). */
enum DataType {
  /** Not set (seed error responses). */
  UNSET(0),
  /** No body (defined by the seed, never used). */
  NONE(1),
  /** One data message holding JSON. */
  JSON(2),
  /** One data message holding an octet stream. */
  OCTETS(3),
  /** A JSON data message followed by an octet data message (extension, protocol version 1). */
  JSON_AND_OCTETS(4);

  private final int wire;

  DataType(int wire) {
    this.wire = wire;
  }

  int wire() {
    return wire;
  }

  /** Whether a request of this type ends with an octet stream (and its trailer). */
  boolean hasOctets() {
    return this == OCTETS || this == JSON_AND_OCTETS;
  }

  static DataType of(long v) {
    for (DataType d : values()) {
      if (d.wire == v) {
        return d;
      }
    }
    throw new IllegalArgumentException("unknown DataType " + v);
  }
}
