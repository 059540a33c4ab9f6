package dev.zrepl4j.replication;

/**
 * Asks the receiver to rename its copy of {@code from} to {@code to} (both in the sender's
 * namespace): the sender renamed or moved that filesystem, as {@code evidence}, a snapshot both
 * sides have, shows by its guid.
 */
public record ReceivedRename(String from, String to, FsVersion evidence) {}
