package dev.zrepl4j.rpc.transport;

import org.jspecify.annotations.Nullable;

/**
 * Client identities: a sink stores a client's datasets under {@code root_fs/<identity>}, so an
 * identity must be one valid ZFS dataset name component. Stateless.
 */
final class Identities {
  /** ZFS_MAX_DATASET_NAME_LEN - 1: the whole dataset name must fit, this is a first bound. */
  static final int MAX_LENGTH = 255;

  private Identities() {}

  /** Null if {@code id} is a valid identity, else why not. */
  static @Nullable String problem(String id) {
    if (id.isEmpty()) {
      return "empty";
    }
    if (id.length() > MAX_LENGTH) {
      return "longer than " + MAX_LENGTH + " characters";
    }
    if (id.equals(".") || id.equals("..")) {
      return "'" + id + "' is not a dataset name component";
    }
    for (int i = 0; i < id.length(); i++) {
      char c = id.charAt(i);
      boolean ok =
          (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || c == '_'
              || c == '-'
              || c == '.'
              || c == ':';
      if (!ok) {
        return "character '" + c + "' at " + i + " is not allowed (letters, digits, _-.: only)";
      }
    }
    return null;
  }

  /**
   * Returns {@code id}.
   *
   * @throws IllegalArgumentException naming {@code what} and the problem
   */
  static String require(String what, String id) {
    String p = problem(id);
    if (p != null) {
      throw new IllegalArgumentException(
          what
              + ": invalid client identity '"
              + id
              + "': "
              + p
              + " (must be a ZFS dataset name component)");
    }
    return id;
  }
}
