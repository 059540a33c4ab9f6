package dev.zrepl4j.config;

import java.nio.file.Path;
import java.util.List;

/**
 * A configuration that cannot be used: every problem found in the file and its includes, each
 * naming the file, line, column and YAML path ({@code jobs[1].serve.client_cn: unknown key}).
 */
public final class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** The problems, in file order; never empty. */
  @SuppressWarnings("serial") // an immutable List.copyOf of records
  private final List<Problem> problems;

  /**
   * @throws IllegalArgumentException if {@code problems} is empty
   */
  public ConfigException(List<Problem> problems) {
    super(message(problems));
    this.problems = List.copyOf(problems);
  }

  private static String message(List<Problem> problems) {
    if (problems.isEmpty()) {
      throw new IllegalArgumentException("a ConfigException needs at least one problem");
    }
    var sb = new StringBuilder();
    sb.append(problems.size()).append(problems.size() == 1 ? " problem" : " problems");
    sb.append(" in the configuration:");
    for (var p : problems) {
      sb.append("\n  ").append(p);
    }
    return sb.toString();
  }

  /** Every problem found, in file order. */
  public List<Problem> problems() {
    return problems;
  }

  /**
   * One problem.
   *
   * @param file the file it is in
   * @param line 1-based, 0 if unknown (e.g. a file that cannot be read)
   * @param column 1-based, 0 if unknown
   * @param path the YAML path, e.g. {@code jobs[1].serve.listen}; empty for the whole file
   * @param message what is wrong
   */
  public record Problem(Path file, int line, int column, String path, String message) {
    /** {@code file:line:col: path: message}, as compilers print it. */
    @Override
    public String toString() {
      var sb = new StringBuilder().append(file);
      if (line > 0) {
        sb.append(':').append(line).append(':').append(column);
      }
      sb.append(": ");
      if (!path.isEmpty()) {
        sb.append(path).append(": ");
      }
      return sb.append(message).toString();
    }
  }
}
