package dev.zrepl4j.daemon;

import java.io.IOException;
import java.io.PrintStream;

/**
 * Where one log outlet's lines go: stdout, the local syslog socket, or a TCP/TLS connection. Used
 * by one outlet thread at a time ({@link #close()} may come from another thread, to end a blocked
 * write).
 */
interface OutletSink extends AutoCloseable {
  /** Whether {@link #open()} must be called (again) before writing. */
  boolean isOpen();

  /**
   * Connects (or reconnects).
   *
   * @throws IOException if the destination cannot be reached
   */
  void open() throws IOException;

  /**
   * Writes one formatted entry.
   *
   * @throws IOException if the destination failed; the sink is closed then
   */
  void write(LogEntry.Level level, String line) throws IOException;

  /** What this sink writes to, for messages: "stdout", "syslog /dev/log", "tcp host:port". */
  String describe();

  /** Closes the connection (the next write needs {@link #open()}); idempotent. */
  @Override
  void close();

  /** stdout: never needs opening; a failed write (closed stdout) is reported like any other. */
  final class Stdout implements OutletSink {
    private final PrintStream out;

    Stdout(PrintStream out) {
      this.out = out;
    }

    @Override
    public boolean isOpen() {
      return true;
    }

    @Override
    public void open() {}

    @Override
    public void write(LogEntry.Level level, String line) throws IOException {
      out.print(line + "\n");
      out.flush();
      if (out.checkError()) {
        throw new IOException("cannot write to stdout");
      }
    }

    @Override
    public String describe() {
      return "stdout";
    }

    @Override
    public void close() {}
  }
}
