package dev.zrepl4j.replication;

/**
 * Names one filesystem, in the sender's namespace.
 *
 * @param filesystem e.g. {@code tank/data/db}
 */
public record FsRequest(String filesystem) {}
