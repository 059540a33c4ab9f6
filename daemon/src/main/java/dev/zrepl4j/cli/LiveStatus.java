package dev.zrepl4j.cli;

import dev.zrepl4j.daemon.Control;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import org.jline.terminal.Attributes;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;
import org.jline.utils.AttributedString;
import org.jline.utils.Display;
import org.jline.utils.InfoCmp.Capability;
import org.jline.utils.NonBlockingReader;
import org.jspecify.annotations.Nullable;

/**
 * The live {@code zrepl4j status} view in a terminal (JLine): full screen, redrawn every {@code
 * refresh} from a new status read over the control socket, keys read in between. Keys: tab, right
 * and down arrows the next job; shift-tab, left and up arrows the previous; {@code /} a filter on
 * filesystem names (enter keeps it, escape drops it); {@code q} or ctrl-C quits. Not thread-safe:
 * one thread runs it.
 *
 * <p>Implementation notes: JLine's {@link Display} redraws only what changed, so a refresh does not
 * flicker; the screen's size is read at each redraw, so a resized terminal gets a fitting view at
 * the next key or refresh. A status that cannot be read keeps the last one on screen with the error
 * above it, and the view goes on polling (a daemon restarting comes back by itself).
 */
final class LiveStatus {
  /** Reads the daemon's status. */
  @FunctionalInterface
  interface Source {
    Control.StatusResponse fetch() throws IOException;
  }

  private static final int ESC = 27;

  private final Source source;
  private final Duration refresh;
  private final Clock clock;

  LiveStatus(Source source, Duration refresh, Clock clock) {
    this.source = source;
    this.refresh = refresh;
    this.clock = clock;
  }

  /**
   * Runs the view on the process's terminal until the user quits.
   *
   * @param first the status read before (its failure already ended the command)
   * @param selectedJob the job to show first (empty: the first one)
   * @throws IOException if the terminal cannot be used
   */
  void run(Control.StatusResponse first, String selectedJob) throws IOException {
    try (Terminal terminal = TerminalBuilder.builder().system(true).dumb(false).build()) {
      Attributes saved = terminal.enterRawMode();
      terminal.puts(Capability.enter_ca_mode);
      terminal.puts(Capability.keypad_xmit);
      terminal.puts(Capability.cursor_invisible);
      terminal.flush();
      try {
        loop(terminal, first, selectedJob);
      } finally {
        terminal.puts(Capability.cursor_visible);
        terminal.puts(Capability.keypad_local);
        terminal.puts(Capability.exit_ca_mode);
        terminal.flush();
        terminal.setAttributes(saved);
      }
    }
  }

  private void loop(Terminal terminal, Control.StatusResponse first, String selectedJob)
      throws IOException {
    var display = new Display(terminal, true);
    NonBlockingReader keys = terminal.reader();
    var status = first;
    @Nullable String error = null;
    var view = StatusView.ViewState.START;
    for (int i = 0; i < status.jobs().size(); i++) {
      if (status.jobs().get(i).name().equals(selectedJob)) {
        view = new StatusView.ViewState(i, "", false);
      }
    }
    long tick = 0;
    long nextFetch = System.nanoTime() + refresh.toNanos();
    while (true) {
      var size = terminal.getSize();
      int width = Math.max(size.getColumns(), 0);
      int height = Math.max(size.getRows(), 0);
      display.resize(height, width);
      var lines =
          StatusView.screen(status, error, view, clock.instant(), width, height, tick).stream()
              .map(AttributedString::new)
              .toList();
      display.update(lines, -1);
      terminal.flush();

      long wait = Math.max(1, (nextFetch - System.nanoTime()) / 1_000_000);
      int c = keys.read(wait);
      if (c == NonBlockingReader.READ_EXPIRED) {
        try {
          status = source.fetch();
          error = null;
        } catch (IOException e) {
          error = e.getMessage() == null ? e.toString() : e.getMessage();
        }
        tick++;
        nextFetch = System.nanoTime() + refresh.toNanos();
        continue;
      }
      if (c < 0) {
        return; // the terminal is gone
      }
      int jobs = status.jobs().size();
      if (view.editing()) {
        view = editFilter(view, c, keys);
        continue;
      }
      switch (key(c, keys)) {
        case NEXT -> view = view.next(jobs);
        case PREVIOUS -> view = view.previous(jobs);
        case FILTER -> view = new StatusView.ViewState(view.selected(), view.filter(), true);
        case QUIT -> {
          return;
        }
        case OTHER -> {}
      }
    }
  }

  private enum Key {
    NEXT,
    PREVIOUS,
    FILTER,
    QUIT,
    OTHER
  }

  /** Decodes a key, reading the rest of an escape sequence (arrows, shift-tab). */
  private static Key key(int c, NonBlockingReader in) throws IOException {
    return switch (c) {
      case '\t', 'n', 'j' -> Key.NEXT;
      case 'p', 'k' -> Key.PREVIOUS;
      case '/' -> Key.FILTER;
      case 'q', 'Q', 3 /* ctrl-C */, 4 /* ctrl-D */ -> Key.QUIT;
      case ESC -> {
        int c2 = in.read(50);
        if (c2 != '[' && c2 != 'O') {
          yield Key.OTHER;
        }
        int c3 = in.read(50);
        yield switch (c3) {
          case 'C', 'B' -> Key.NEXT; // right, down
          case 'D', 'A', 'Z' -> Key.PREVIOUS; // left, up, shift-tab
          default -> Key.OTHER;
        };
      }
      default -> Key.OTHER;
    };
  }

  /** A key while the filter is typed: text, backspace, enter (keep), escape (drop). */
  private static StatusView.ViewState editFilter(
      StatusView.ViewState view, int c, NonBlockingReader in) throws IOException {
    var f = view.filter();
    return switch (c) {
      case '\r', '\n' -> new StatusView.ViewState(view.selected(), f, false);
      case ESC -> {
        // a lone escape drops the filter; an arrow's sequence is read and ignored
        if (in.peek(30) == '[') {
          in.read();
          in.read(30);
          yield view;
        }
        yield new StatusView.ViewState(view.selected(), "", false);
      }
      case 127, 8 ->
          new StatusView.ViewState(
              view.selected(), f.isEmpty() ? f : f.substring(0, f.length() - 1), true);
      case 3 -> new StatusView.ViewState(view.selected(), "", false);
      default ->
          c >= 32 && f.length() < 200
              ? new StatusView.ViewState(view.selected(), f + (char) c, true)
              : view;
    };
  }
}
