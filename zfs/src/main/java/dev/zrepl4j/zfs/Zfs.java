package dev.zrepl4j.zfs;

import dev.zrepl4j.zfs.FilesystemVersion.FullName;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongSupplier;
import java.util.function.Predicate;

/**
 * The ZFS operations zrepl4j needs (the test seam over the {@code zfs} command line). The real
 * implementation is {@link RealZfs}; every method runs one {@code zfs} command unless it says
 * otherwise. Implementations are thread-safe.
 *
 * <p>Every method throws {@link ZfsException} (an {@link IOException}) when the command fails,
 * {@link ZfsParseException} when its output cannot be parsed, and {@link MissingFeatureException}
 * when it needs a feature this ZFS lacks (see {@link #capabilities()}).
 */
public interface Zfs {

  /** The user property that marks a placeholder filesystem (seed §2.7). */
  String PLACEHOLDER_PROPERTY = "zrepl:placeholder";

  /**
   * The real {@code zfs}/{@code zpool} binaries on this host's PATH; detects capabilities now.
   *
   * @throws IOException if {@code zfs} cannot be run at all
   */
  static RealZfs local() throws IOException {
    return RealZfs.start(List.of("zfs"), List.of("zpool"));
  }

  /** What this ZFS supports, detected at start-up. */
  ZfsCapabilities capabilities();

  /**
   * Whether every command of this ZFS that may change a dataset marks {@link
   * ChangeClock#process()}, so that a listing made through it may be used again while the clock
   * says its filesystem is unchanged. A stand-in that does not mark says no, and nothing is reused.
   */
  default boolean marksChanges() {
    return false;
  }

  /**
   * This ZFS, telling {@code listener} of every {@code zfs}/{@code zpool} command it runs. An
   * implementation that runs no commands (a stand-in) returns itself: there is nothing to observe.
   */
  default Zfs observedBy(CommandListener listener) {
    return this;
  }

  /**
   * Filesystems and volumes under {@code roots} (recursively; all pools if {@code roots} is empty)
   * that pass {@code filter}, in {@code zfs list} order.
   */
  List<DatasetPath> listFilesystems(Collection<DatasetPath> roots, Predicate<DatasetPath> filter)
      throws IOException;

  /**
   * Filesystems and volumes under those of {@code roots} that exist (recursively, the roots
   * included; none if {@code roots} is empty) that pass {@code filter}, in one invocation. A root
   * that does not exist is skipped, any other failure is thrown.
   */
  List<DatasetPath> listFilesystemsBelow(
      Collection<DatasetPath> roots, Predicate<DatasetPath> filter) throws IOException;

  /**
   * The snapshots and bookmarks of each of {@code filesystems}, each list ordered by createtxg, in
   * a few {@code zfs} invocations side by side however many they are ({@link SideBySide}; none if
   * the collection is empty). Every requested filesystem is a key of the result. On zfs-fuse the
   * numbers come from {@code zfs get -Hp}.
   */
  Map<DatasetPath, List<FilesystemVersion>> listVersions(Collection<DatasetPath> filesystems)
      throws IOException;

  /**
   * Like {@link #listVersions}, for filesystems that may not exist: those that do not get an empty
   * list, like those without versions (any other failure is thrown).
   */
  Map<DatasetPath, List<FilesystemVersion>> listVersionsOfExisting(
      Collection<DatasetPath> filesystems) throws IOException;

  /**
   * The given properties of the given datasets (filesystems or {@code fs@snap} names), in a few
   * invocations side by side ({@link SideBySide}): dataset name → property name → value. User
   * properties that are not set have value {@code -}.
   */
  Map<String, Map<String, Property>> getProperties(
      Collection<String> datasets, Collection<String> properties) throws IOException;

  /**
   * Like {@link #getProperties}, for datasets that may not exist: those that do not are absent from
   * the result (any other failure is still thrown).
   */
  Map<String, Map<String, Property>> getPropertiesOfExisting(
      Collection<String> datasets, Collection<String> properties) throws IOException;

  /** {@code zfs set property=value dataset}. */
  void setProperty(String dataset, String property, String value) throws IOException;

  /** {@code zfs inherit property dataset}. */
  void inheritProperty(String dataset, String property) throws IOException;

  /** {@code zfs create [-o k=v]... fs} (parent must exist). */
  void create(DatasetPath filesystem, Map<String, String> properties) throws IOException;

  /**
   * Creates a placeholder: {@code zfs create -o zrepl:placeholder=<hash> -o mountpoint=none fs}.
   */
  default void createPlaceholder(DatasetPath filesystem) throws IOException {
    create(
        filesystem,
        Map.of(PLACEHOLDER_PROPERTY, placeholderHash(filesystem), "mountpoint", "none"));
  }

  /**
   * Snapshots each of {@code filesystems} as {@code fs@name}: in one atomic command where ZFS
   * supports it ({@link ZfsFeature#MULTI_SNAPSHOT}), else one command per filesystem (logged).
   */
  void snapshot(Collection<DatasetPath> filesystems, String name) throws IOException;

  /** {@code zfs destroy [-r] fs}. */
  void destroyFilesystem(DatasetPath filesystem, boolean recursive) throws IOException;

  /** {@code zfs rename from to} of a filesystem (the new parent must exist). */
  void rename(DatasetPath from, DatasetPath to) throws IOException;

  /**
   * Destroys snapshots and bookmarks; snapshots of one filesystem in one comma-batched command
   * where supported ({@link ZfsFeature#COMMA_DESTROY}), else one command each.
   */
  void destroyVersions(Collection<FullName> versions) throws IOException;

  /** {@code zfs hold tag snap...} (one command). */
  void hold(String tag, Collection<FullName> snapshots) throws IOException;

  /** {@code zfs release tag snap...} (one command). */
  void release(String tag, Collection<FullName> snapshots) throws IOException;

  /**
   * {@code zfs holds -H -p snap...}. On zfs-fuse {@code zfs holds} is broken: this throws {@link
   * MissingFeatureException}; the hold count is in {@link FilesystemVersion#userRefs()}.
   */
  List<Hold> listHolds(Collection<FullName> snapshots) throws IOException;

  /** {@code zfs bookmark fs@snap fs#name} (OpenZFS). */
  void bookmark(FullName snapshot, String bookmarkName) throws IOException;

  /**
   * Starts {@code zfs send}. The caller reads and closes the stream; a failing send surfaces as a
   * {@link ZfsException} from {@code read}.
   */
  SendStream send(SendRequest request) throws IOException;

  /** The estimated stream size in bytes ({@code zfs send -nvP}, OpenZFS). */
  long estimateSendSize(SendRequest request) throws IOException;

  /**
   * Runs {@code zfs receive} of {@code stream} into {@code target} and waits for it. The stream is
   * read to its end but not closed. If reading {@code stream} fails, the receive is killed and that
   * failure is thrown.
   */
  void receive(DatasetPath target, InputStream stream, ReceiveOptions options) throws IOException;

  /**
   * Whether {@link #sendInto} and {@link #receiveFrom} can be used here: the direct data path, on
   * which {@code zfs} itself writes into and reads from a socket (docs/DIRECT-PATH.md).
   */
  default boolean direct() {
    return false;
  }

  /**
   * Runs {@code zfs send} with the connected socket {@code fd} as its stdout, and waits for it.
   * Where a command timeout is set, a send whose socket sends nothing for that long is killed.
   *
   * @param sent the bytes that left through the socket so far (the kernel's count)
   * @throws ZfsException if it exited non-zero or was killed (its status and stderr)
   * @throws UnsupportedOperationException unless {@link #direct()}
   */
  default void sendInto(SendRequest request, int fd, LongSupplier sent) throws IOException {
    throw new UnsupportedOperationException("no direct data path");
  }

  /**
   * Runs {@code zfs receive} into {@code target} with the connected socket {@code fd} as its stdin,
   * and waits for it. Where a command timeout is set, a receive whose socket brings nothing for
   * that long is killed.
   *
   * @param received the bytes that came through the socket so far (the kernel's count)
   * @throws ZfsException if it exited non-zero or was killed (its status and stderr)
   * @throws UnsupportedOperationException unless {@link #direct()}
   */
  default void receiveFrom(
      DatasetPath target, int fd, ReceiveOptions options, LongSupplier received)
      throws IOException {
    throw new UnsupportedOperationException("no direct data path");
  }

  /** {@code zfs receive -A fs}: discards a partial resumable receive (OpenZFS). */
  void abortReceive(DatasetPath target) throws IOException;

  /**
   * The {@code receive_resume_token} of {@code filesystem}, if a resumable receive was interrupted.
   * Always empty on ZFS without resumable receive (there cannot be one).
   */
  Optional<String> receiveResumeToken(DatasetPath filesystem) throws IOException;

  /** Lowercase hex SHA-512/256 of the path string: the placeholder marker of seed §2.7. */
  static String placeholderHash(DatasetPath path) {
    try {
      var md = MessageDigest.getInstance("SHA-512/256");
      return HexFormat.of().formatHex(md.digest(path.toString().getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("JDK without SHA-512/256", e);
    }
  }

  /**
   * Whether {@code path} is a placeholder, given only its {@code zrepl:placeholder} value: only if
   * the value is the hash of its own path (the property inherits to children, and the hash of
   * another path does not fit). Without the property's source a zrepl 0.1+ placeholder ({@code on})
   * cannot be told from its inheriting children: prefer {@link #isPlaceholder(DatasetPath,
   * Property)}.
   */
  static boolean isPlaceholder(DatasetPath path, String placeholderPropertyValue) {
    return placeholderPropertyValue.equals(placeholderHash(path));
  }

  /**
   * Whether {@code path} is a placeholder, given its {@code zrepl:placeholder} property: as zrepl
   * 0.7 decides ({@code isLocalPlaceholderPropertyValuePlaceholder}), the property must be set
   * locally (not inherited from a placeholder parent) to {@code on} (what zrepl 0.1 and later
   * create) or to the hash of the path (what the seed and zrepl4j create); {@code off} (zrepl's
   * mark of a replaced placeholder) and anything else is not one.
   */
  static boolean isPlaceholder(DatasetPath path, Property placeholderProperty) {
    if (!placeholderProperty.source().equals("local")) {
      return false;
    }
    var v = placeholderProperty.value();
    return v.equals("on") || v.equals(placeholderHash(path));
  }

  /** Rejects property names that would change the meaning of a command line. */
  static void checkPropertyName(String name) {
    if (name.isEmpty()
        || name.indexOf('=') >= 0
        || name.startsWith("-")
        || name.indexOf(',') >= 0) {
      throw new IllegalArgumentException("invalid property name '" + name + "'");
    }
  }
}
