package dev.zrepl4j.daemon;

import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Which job a log entry belongs to (zrepl's {@code job} field), and which subsystem (zrepl's {@code
 * subsystem} field) its logger is part of. Thread-safe.
 */
public final class LogContext {
  /*
   * Implementation notes. zrepl hands each job a logger carrying job=NAME down its context. Here
   * the libraries (rpc, zfs, replication) log through SLF4J with their own class loggers, and a
   * job's work runs on threads that the job's thread starts (replication workers, RPC connections,
   * zfs stderr drainers...), several levels deep. An InheritableThreadLocal follows exactly that:
   * every Thread (platform or virtual) copies it from the thread that creates it. A ScopedValue
   * would be the modern choice, but it only crosses threads inside a StructuredTaskScope, which is
   * still a preview in Java 25. The value is an immutable String set once per job (Daemon, around
   * the job's start), never a cache.
   */
  private static final InheritableThreadLocal<@Nullable String> JOB =
      new InheritableThreadLocal<>();

  private LogContext() {}

  /** Restores the previous job of this thread on close. */
  public interface Scope extends AutoCloseable {
    @Override
    void close();
  }

  /**
   * Marks this thread, and every thread it starts until the scope closes, as working for {@code
   * job}.
   */
  public static Scope job(String job) {
    var before = JOB.get();
    JOB.set(job);
    return () -> JOB.set(before);
  }

  /** The job of the current thread, if any. */
  public static Optional<String> job() {
    return Optional.ofNullable(JOB.get());
  }

  /**
   * zrepl's subsystem of a logger named for its class: {@code repl} (the replication driver),
   * {@code endpoint} (sender and receiver), {@code pruning}, {@code snapshot} (snapshotter and its
   * hooks), {@code transport}, {@code rpc}, {@code rpc.data} (frames), {@code zfs}; "" for the
   * daemon's and the jobs' own loggers.
   */
  static String subsystem(String logger) {
    int dot = logger.lastIndexOf('.');
    String pkg = dot < 0 ? "" : logger.substring(0, dot);
    String cls = logger.substring(dot + 1);
    return switch (pkg) {
      case "dev.zrepl4j.replication" ->
          switch (cls) {
            case "Sender", "Receiver" -> "endpoint";
            default -> "repl";
          };
      case "dev.zrepl4j.replication.pruning" -> "pruning";
      case "dev.zrepl4j.replication.snapshotting" -> "snapshot";
      case "dev.zrepl4j.replication.filter" -> "repl";
      case "dev.zrepl4j.daemon" ->
          switch (cls) {
            case "Pruning" -> "pruning";
            case "Snapshots", "SnapJob" -> "snapshot";
            default -> "";
          };
      case "dev.zrepl4j.config" ->
          switch (cls) {
            case "PostgresCheckpoint", "MysqlLockTables" -> "snapshot";
            default -> "";
          };
      case "dev.zrepl4j.rpc.transport" -> "transport";
      case "dev.zrepl4j.rpc.frame" -> "rpc.data";
      case "dev.zrepl4j.rpc" -> "rpc";
      case "dev.zrepl4j.zfs" -> "zfs";
      default -> "";
    };
  }
}
