package dev.zrepl4j.replication;

/**
 * The sender's estimate of a step's stream size ({@code zfs send -nvP}).
 *
 * @param bytes estimated bytes, or -1 where this ZFS cannot estimate
 */
public record SizeEstimate(long bytes) {}
