package dev.zrepl4j.zfs;

import java.time.Instant;

/**
 * A user hold on a snapshot ({@code zfs holds}).
 *
 * @param snapshot the held snapshot
 * @param tag the hold's tag
 * @param created when the hold was placed
 */
public record Hold(FilesystemVersion.FullName snapshot, String tag, Instant created) {}
