package dev.zrepl4j.replication;

import org.jspecify.annotations.Nullable;

/**
 * What the active side asks the sender to send: one step.
 *
 * @param filesystem in the sender's namespace
 * @param from the incremental source (snapshot or bookmark), or null for a full send
 * @param to the snapshot to send
 * @param resumeToken a receiver's resume token: send the rest of the interrupted step ({@code zfs
 *     send -t}); "" for none
 * @param intermediates send every snapshot between from and to in one stream ({@code -I})
 * @param protection the protection level of this step ({@link Protection})
 */
public record SendSpec(
    String filesystem,
    @Nullable FsVersion from,
    FsVersion to,
    String resumeToken,
    boolean intermediates,
    Protection protection) {}
