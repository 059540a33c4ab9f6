package dev.zrepl4j.zfs;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A ZFS dataset path as a list of components ({@code tank/foo/bar} has three), compared and
 * prefixed component-wise (seed §2.3). Immutable; its JSON form is the array of {@link
 * #components()}.
 *
 * <p>Parsing rejects {@code @ # | TAB < > *} and a trailing {@code /}; empty leading or middle
 * components are kept ({@code a//b} has three components, {@code /a} two), as in the seed. The
 * empty path is the root above all pools. Deviation from the seed: a SPACE is accepted, because ZFS
 * allows it in dataset names and a pool holding such a dataset must still be listable.
 */
public record DatasetPath(List<String> components) {

  private static final String FORBIDDEN = "@#|\t<>*";

  /** The empty (root) path. */
  public static final DatasetPath ROOT = new DatasetPath(List.of());

  public DatasetPath {
    components = List.copyOf(components);
    for (String c : components) {
      if (c.contains("/")) {
        throw new IllegalArgumentException("dataset path component contains '/': " + c);
      }
      checkNoForbiddenCharacters(c);
    }
  }

  /**
   * Parses {@code s}; the empty string is the root path.
   *
   * @throws IllegalArgumentException naming {@code s} if it is not a valid dataset path
   */
  public static DatasetPath parse(String s) {
    if (s.isEmpty()) {
      return ROOT;
    }
    checkNoForbiddenCharacters(s);
    var parts = s.split("/", -1);
    if (parts[parts.length - 1].isEmpty()) {
      throw new IllegalArgumentException("dataset path must not end with a '/': " + s);
    }
    return new DatasetPath(Arrays.asList(parts));
  }

  /** Builds a path from components, e.g. {@code of("tank", "foo")}. */
  public static DatasetPath of(String... components) {
    return new DatasetPath(Arrays.asList(components));
  }

  private static void checkNoForbiddenCharacters(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (FORBIDDEN.indexOf(s.charAt(i)) >= 0) {
        throw new IllegalArgumentException(
            "dataset path contains forbidden characters (any of @#|<>* or TAB): '" + s + "'");
      }
    }
  }

  /** Number of components. */
  public int length() {
    return components.size();
  }

  /** Whether this is the root path (no components). */
  public boolean isEmpty() {
    return components.isEmpty();
  }

  /** Whether {@code prefix} is a component-wise prefix of this path (or equal to it). */
  public boolean hasPrefix(DatasetPath prefix) {
    return prefix.length() <= length()
        && components.subList(0, prefix.length()).equals(prefix.components);
  }

  /**
   * This path without {@code prefix}.
   *
   * @throws IllegalArgumentException if {@code prefix} is not a prefix of this path
   */
  public DatasetPath trimPrefix(DatasetPath prefix) {
    if (!hasPrefix(prefix)) {
      throw new IllegalArgumentException(prefix + " is not a prefix of " + this);
    }
    return new DatasetPath(components.subList(prefix.length(), length()));
  }

  /** This path without its first {@code n} components (clamped: trimming too many gives root). */
  public DatasetPath trimFirst(int n) {
    if (n < 0) {
      throw new IllegalArgumentException("negative component count " + n);
    }
    return n >= length() ? ROOT : new DatasetPath(components.subList(n, length()));
  }

  /** This path followed by the components of {@code suffix}. */
  public DatasetPath extend(DatasetPath suffix) {
    var all = new ArrayList<String>(length() + suffix.length());
    all.addAll(components);
    all.addAll(suffix.components);
    return new DatasetPath(all);
  }

  /** This path followed by one more component. */
  public DatasetPath child(String component) {
    return extend(DatasetPath.of(component));
  }

  /** The path without its last component; the root's parent is the root. */
  public DatasetPath parent() {
    return isEmpty() ? ROOT : new DatasetPath(components.subList(0, length() - 1));
  }

  /** The pool name (first component). */
  public String pool() {
    if (isEmpty()) {
      throw new IllegalStateException("the root path has no pool");
    }
    return components.getFirst();
  }

  /** The path in {@code zfs} syntax, components joined with {@code /}. */
  @Override
  public String toString() {
    return String.join("/", components);
  }
}
