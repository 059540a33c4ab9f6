package dev.zrepl4j.replication;

import org.jspecify.annotations.Nullable;

/** One planned transfer of one filesystem: a full send, an incremental or a resumed one. */
public sealed interface Step permits Step.Full, Step.Incremental, Step.Resume {

  /** The incremental source, or null for a full stream. */
  @Nullable FsVersion from();

  /** The snapshot the step brings to the receiver. */
  FsVersion to();

  /**
   * Whether this step creates the filesystem on the receiver (a child's waits for its parent's).
   */
  default boolean initial() {
    return from() == null;
  }

  /** What to ask the sender for. */
  default SendSpec sendSpec(String filesystem, Protection initial, Protection incremental) {
    var protection = initial() ? initial : incremental;
    return switch (this) {
      case Full f -> new SendSpec(filesystem, null, f.to(), "", false, protection);
      case Incremental i ->
          new SendSpec(filesystem, i.from(), i.to(), "", i.intermediates(), protection);
      case Resume r -> new SendSpec(filesystem, r.from(), r.to(), r.token(), false, protection);
    };
  }

  /** What to tell the receiver. */
  default ReceiveSpec receiveSpec(String filesystem) {
    // the engine moves the receiver's last-received holds in batches (Replication.Completions)
    return new ReceiveSpec(filesystem, from(), to(), this instanceof Resume, true);
  }

  /** {@code zfs send fs@to}. */
  record Full(FsVersion to) implements Step {
    public Full {
      requireSnapshot(to);
    }

    @Override
    public @Nullable FsVersion from() {
      return null;
    }

    @Override
    public String toString() {
      return "full " + to;
    }
  }

  /**
   * {@code zfs send -i from to}, or {@code -I} when {@code intermediates} (every snapshot between
   * them in one stream).
   */
  record Incremental(FsVersion from, FsVersion to, boolean intermediates) implements Step {
    public Incremental {
      requireSnapshot(to);
    }

    @Override
    public String toString() {
      return (intermediates ? "-I " : "-i ") + from + " -> " + to;
    }
  }

  /** {@code zfs send -t token}: the rest of an interrupted step. */
  record Resume(String token, @Nullable FsVersion from, FsVersion to) implements Step {
    public Resume {
      if (token.isEmpty()) {
        throw new IllegalArgumentException("empty resume token");
      }
      requireSnapshot(to);
    }

    @Override
    public String toString() {
      return "resume " + (from == null ? "full" : from + " ->") + " " + to;
    }
  }

  private static void requireSnapshot(FsVersion to) {
    if (!to.isSnapshot()) {
      throw new IllegalArgumentException("a step must end at a snapshot, not " + to);
    }
  }
}
