package dev.zrepl4j.daemon;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counts of the daemon's log entries, for monitoring: per job, subsystem and level (zrepl's {@code
 * zrepl_daemon_log_entries}, whose labels are {@code zrepl_job} and {@code level}; sum over {@link
 * Key#subsystem()} for those), and per outlet the entries it dropped because it was down or too
 * slow. An entry is counted once, whichever outlets it goes to; entries of every level from debug
 * up are counted, whatever the outlets' levels (as zrepl's prometheus outlet is added at debug).
 * Thread-safe.
 */
public final class LogStats {
  /** zrepl's job label of an entry logged outside any job. */
  public static final String NO_JOB = "_nojobid";

  private final Map<Key, LongAdder> entries = new ConcurrentHashMap<>();
  private final List<Registered> outlets = new CopyOnWriteArrayList<>();

  /**
   * The labels of one count.
   *
   * @param job the job's name, or {@link #NO_JOB}
   * @param subsystem zrepl's subsystem (repl, endpoint, pruning, snapshot, transport, rpc, zfs,
   *     hooks), or "" for the job's and daemon's own entries
   * @param level debug, info, warn or error
   */
  public record Key(String job, String subsystem, String level) {}

  /**
   * One outlet's drop count at one moment.
   *
   * @param index its position in {@code global.logging} (0 = first)
   * @param type stdout, syslog or tcp
   * @param dropped entries this outlet dropped: its buffer was full, or it was down
   */
  public record Outlet(int index, String type, long dropped) {}

  private record Registered(int index, String type, LongAdder dropped) {}

  /** A snapshot of the entry counts. */
  public Map<Key, Long> entries() {
    var out = new HashMap<Key, Long>();
    entries.forEach((k, v) -> out.put(k, v.sum()));
    return Map.copyOf(out);
  }

  /** The entries counted with {@code level} (all jobs and subsystems). */
  public long entries(String level) {
    long n = 0;
    for (var e : entries.entrySet()) {
      if (e.getKey().level().equals(level)) {
        n += e.getValue().sum();
      }
    }
    return n;
  }

  /** Every outlet with its drop count, in config order. */
  public List<Outlet> outlets() {
    return outlets.stream().map(o -> new Outlet(o.index(), o.type(), o.dropped().sum())).toList();
  }

  /** Entries dropped by all outlets together. */
  public long dropped() {
    long n = 0;
    for (var o : outlets) {
      n += o.dropped().sum();
    }
    return n;
  }

  void count(LogEntry e) {
    count(e.fields().getOrDefault(LogEntry.JOB, NO_JOB), e.field(LogEntry.SUBSYSTEM), e.level());
  }

  void count(String job, String subsystem, LogEntry.Level level) {
    var key = new Key(job, subsystem, level.text());
    entries.computeIfAbsent(key, k -> new LongAdder()).increment();
  }

  LongAdder register(int index, String type) {
    var o = new Registered(index, type, new LongAdder());
    outlets.add(o);
    return o.dropped();
  }
}
