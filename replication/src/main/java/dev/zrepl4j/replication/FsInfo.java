package dev.zrepl4j.replication;

/**
 * A filesystem as one side reports it to the active side.
 *
 * @param path the filesystem's path in the <em>sender's</em> namespace (a receiver maps its own
 *     datasets back to it, e.g. strips {@code root_fs/<client identity>/})
 * @param placeholder whether it is a zrepl placeholder (receiver side; a placeholder has no data
 *     and may be replaced by a full receive)
 * @param resumeToken the {@code receive_resume_token} of an interrupted receive, or "" (receiver
 *     side)
 */
public record FsInfo(String path, boolean placeholder, String resumeToken) {}
