package dev.zrepl4j.replication;

import org.jspecify.annotations.Nullable;

/**
 * Tells the sender that a step arrived completely: it moves the replication cursor to {@code to}
 * and releases the step's holds.
 */
public record SendCompleted(String filesystem, @Nullable FsVersion from, FsVersion to) {}
