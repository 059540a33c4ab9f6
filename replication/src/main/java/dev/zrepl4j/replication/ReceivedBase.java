package dev.zrepl4j.replication;

/**
 * Tells the receiver that {@code filesystem} (sender's namespace) is in sync at {@code snapshot},
 * the newest version both sides have: the base of the next incremental step.
 */
public record ReceivedBase(String filesystem, FsVersion snapshot) {}
