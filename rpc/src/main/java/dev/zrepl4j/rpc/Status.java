package dev.zrepl4j.rpc;

/** The seed's response status ({@code Error} key of the header). */
enum Status {
  NONE(0),
  OK(1),
  REQUEST_ERROR(2),
  SERVER_ERROR(3),
  ERROR(4);

  private final int wire;

  Status(int wire) {
    this.wire = wire;
  }

  int wire() {
    return wire;
  }

  static Status of(long v) {
    for (Status s : values()) {
      if (s.wire == v) {
        return s;
      }
    }
    throw new IllegalArgumentException("unknown status " + v);
  }
}
