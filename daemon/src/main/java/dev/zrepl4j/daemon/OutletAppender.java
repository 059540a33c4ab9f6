package dev.zrepl4j.daemon;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.UnsynchronizedAppenderBase;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

/**
 * One {@code global.logging} outlet as a logback appender: formats each entry of at least its level
 * on the logging thread (where the job is known), puts the line in a bounded buffer, and returns at
 * once; its own thread writes the buffer to the {@link OutletSink}. A full buffer or a sink that is
 * down drops entries and counts them; it never blocks or fails the caller. A failed write is
 * retried once on a new connection at once (a restarted syslog daemon); a sink that still fails is
 * reported once to the other outlets and retried every {@code retry_interval}; its recovery is
 * reported too, with the number of entries lost meanwhile. Thread-safe.
 */
final class OutletAppender extends UnsynchronizedAppenderBase<ILoggingEvent> {
  /** Entries an outlet buffers before it drops. */
  static final int BUFFER = 4096;

  private record Line(LogEntry.Level level, String text) {}

  private final int index;
  private final LogEntry.Level threshold;
  private final LogFormat format;
  private final LogFormat.Metadata metadata;
  private final OutletSink sink;
  private final Duration retryInterval;
  private final LongAdder dropped;
  private final Consumer<LogEntry> reportToOthers;
  private final BlockingQueue<Line> queue;
  private final Thread writer;
  private volatile boolean closing;

  /**
   * @param reportToOthers where this outlet's failures and recoveries go (the other outlets)
   * @param dropped this outlet's drop counter (in {@link LogStats})
   */
  OutletAppender(
      int index,
      LogEntry.Level threshold,
      LogFormat format,
      LogFormat.Metadata metadata,
      OutletSink sink,
      Duration retryInterval,
      LongAdder dropped,
      Consumer<LogEntry> reportToOthers,
      int buffer) {
    this.index = index;
    this.threshold = threshold;
    this.format = format;
    this.metadata = metadata;
    this.sink = sink;
    this.retryInterval = retryInterval;
    this.dropped = dropped;
    this.reportToOthers = reportToOthers;
    this.queue = new ArrayBlockingQueue<>(buffer);
    setName("outlet-" + index);
    this.writer =
        Thread.ofPlatform()
            .daemon()
            .name("log-outlet-" + index + "-" + sink.describe())
            .unstarted(this::loop);
  }

  LogEntry.Level threshold() {
    return threshold;
  }

  @Override
  public void start() {
    super.start();
    writer.start();
  }

  @Override
  protected void append(ILoggingEvent event) {
    // most debug entries go to no outlet: decide before building the entry
    if (LogOutlets.level(event).compareTo(threshold) >= 0) {
      offer(LogOutlets.entry(event));
    }
  }

  /** Formats {@code e} and buffers it if it is of this outlet's level; never blocks. */
  void offer(LogEntry e) {
    if (e.level().compareTo(threshold) < 0) {
      return;
    }
    String text;
    try {
      text = format.format(e, metadata);
    } catch (RuntimeException ex) {
      text = "cannot format a log entry: " + ex;
    }
    if (closing || !queue.offer(new Line(e.level(), text))) {
      dropped.increment();
    }
  }

  private void loop() {
    long nextAttempt = 0;
    boolean down = false;
    long droppedWhileDown = 0;
    while (true) {
      Line l;
      try {
        l = queue.poll(100, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        break;
      }
      if (l == null) {
        if (closing) {
          break;
        }
        continue;
      }
      if (!sink.isOpen()) {
        if (System.nanoTime() - nextAttempt < 0) {
          dropped.increment();
          droppedWhileDown++;
          continue;
        }
        try {
          sink.open();
        } catch (IOException | RuntimeException e) {
          nextAttempt = System.nanoTime() + retryInterval.toNanos();
          dropped.increment();
          droppedWhileDown++;
          if (!down) {
            down = true;
            report(LogEntry.Level.ERROR, "cannot write to this outlet: " + e.getMessage());
          }
          continue;
        }
        if (down) {
          down = false;
          report(
              LogEntry.Level.WARN,
              "outlet is back; " + droppedWhileDown + " entries were dropped while it was down");
          droppedWhileDown = 0;
        }
      }
      try {
        writeOrReconnect(l);
      } catch (IOException | RuntimeException e) {
        sink.close();
        nextAttempt = System.nanoTime() + retryInterval.toNanos();
        dropped.increment();
        droppedWhileDown++;
        if (!down) {
          down = true;
          report(LogEntry.Level.ERROR, "cannot write to this outlet: " + e.getMessage());
        }
      }
    }
    sink.close();
  }

  /**
   * Writes {@code l}; if that fails, reconnects at once and writes it again, as Go's log/syslog
   * does: a syslog daemon that restarted (logrotate, an upgrade) has a new socket, and the old
   * connection only learns of it by a failed send. Only when the second attempt fails too is the
   * outlet down.
   */
  private void writeOrReconnect(Line l) throws IOException {
    try {
      sink.write(l.level(), l.text());
      return;
    } catch (IOException | RuntimeException first) {
      sink.close();
      try {
        sink.open();
        sink.write(l.level(), l.text());
      } catch (IOException | RuntimeException second) {
        second.addSuppressed(first);
        throw second;
      }
    }
  }

  private void report(LogEntry.Level level, String message) {
    var fields = new LinkedHashMap<String, String>();
    fields.put(LogEntry.SUBSYSTEM, "logging");
    fields.put("outlet", "#" + index + " " + sink.describe());
    fields.put("retry_interval", retryInterval.toString());
    reportToOthers.accept(new LogEntry(Instant.now(), level, message, fields));
  }

  /**
   * Stops taking entries, writes what is buffered for up to {@code grace}, then closes the sink
   * (which ends a write in progress).
   */
  void close(Duration grace) {
    closing = true;
    try {
      writer.join(grace);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    sink.close();
    writer.interrupt();
    super.stop();
  }

  @Override
  public void stop() {
    close(Duration.ofSeconds(2));
  }
}
