package dev.zrepl4j.replication;

/**
 * What a receive did.
 *
 * @param target the dataset it received into (receiver's namespace, for logs)
 * @param bytes bytes of the stream that were read
 * @param replacedPlaceholder a placeholder was replaced by this full receive
 */
public record ReceiveResult(String target, long bytes, boolean replacedPlaceholder) {}
