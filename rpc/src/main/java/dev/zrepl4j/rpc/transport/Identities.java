package dev.zrepl4j.rpc.transport;

import java.util.Optional;

/**
 * The one rule for client identities and dataset name components, used by configcheck, the
 * transports here and the receiver. A sink stores a client's datasets under {@code
 * root_fs/<identity>}, so an identity must be exactly one valid ZFS dataset name component: zrepl's
 * {@code ComponentNamecheck} (zfs/namecheck.go), which follows ZFS's {@code valid_char} of
 * module/zcommon/zfs_namecheck.c: 1 to 255 ASCII letters, digits, {@code -}, {@code _}, {@code .},
 * {@code :} and space, and not {@code .} or {@code ..}. It lives in rpc, the lowest module that the
 * transports, the replication endpoints and the config all depend on; it is a rule on strings, so
 * rpc still knows nothing of the zfs module. Stateless.
 */
public final class Identities {
  /** ZFS_MAX_DATASET_NAME_LEN - 1: the whole dataset name must fit, this is a first bound. */
  public static final int MAX_LENGTH = 255;

  private Identities() {}

  /**
   * Why {@code s} is not a valid dataset name component (and so not a valid client identity), if it
   * is not; the reason reads after the name ({@code "'a/b' contains '/' (allowed: ...)"}).
   */
  public static Optional<String> problem(String s) {
    if (s.isEmpty()) {
      return Optional.of("must not be empty");
    }
    if (s.length() > MAX_LENGTH) {
      return Optional.of("is longer than " + MAX_LENGTH + " characters");
    }
    if (s.equals(".") || s.equals("..")) {
      return Optional.of("must not be '.' or '..'");
    }
    for (int i = 0; i < s.length(); ) {
      int c = s.codePointAt(i);
      boolean ok =
          (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || c == '-'
              || c == '_'
              || c == '.'
              || c == ':'
              || c == ' ';
      if (!ok) {
        return Optional.of(
            "contains '"
                + Character.toString(c)
                + "' (allowed: letters, digits, '-', '_', '.', ':' and space)");
      }
      i += Character.charCount(c);
    }
    return Optional.empty();
  }

  /** Whether {@code s} is a valid dataset name component ({@link #problem} is empty). */
  public static boolean valid(String s) {
    return problem(s).isEmpty();
  }

  /**
   * Returns {@code id}.
   *
   * @throws IllegalArgumentException naming {@code what} and the problem
   */
  static String require(String what, String id) {
    var p = problem(id);
    if (p.isPresent()) {
      throw new IllegalArgumentException(
          what
              + ": invalid client identity '"
              + id
              + "': "
              + p.get()
              + " (must be a ZFS dataset name component)");
    }
    return id;
  }
}
