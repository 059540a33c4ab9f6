package dev.zrepl4j.replication;

/**
 * zrepl's {@code send:} options of a job's sending side.
 *
 * @param encrypted send only encrypted filesystems, raw ({@code -w}); refuse unencrypted ones
 * @param raw {@code -w} for every filesystem
 * @param compressed {@code -c} (dropped with a warning where ZFS lacks it)
 * @param largeBlocks {@code -L} (dropped with a warning where ZFS lacks it)
 * @param embeddedData {@code -e} (dropped with a warning where ZFS lacks it)
 * @param properties {@code -p}
 */
public record SenderOptions(
    boolean encrypted,
    boolean raw,
    boolean compressed,
    boolean largeBlocks,
    boolean embeddedData,
    boolean properties) {

  /** No flags: a plain {@code zfs send}. */
  public static final SenderOptions PLAIN =
      new SenderOptions(false, false, false, false, false, false);
}
