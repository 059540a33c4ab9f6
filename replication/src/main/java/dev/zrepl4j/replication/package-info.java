/**
 * The replication engine: the planner and its diff and steps ({@link Planner}, {@link Diff}, {@link
 * Step}), the sending and receiving endpoints and their RPC contracts ({@link Sender}, {@link
 * Receiver}, {@link SenderApi}, {@link ReceiverApi}, {@link ReceiverEndpoint}, {@link SeedSource}),
 * the drivers that connect them ({@link Push}, {@link Pull}, {@link Local}) and the run loop
 * ({@link Replication}), with zrepl's holds, cursors and names ({@code Holds}, {@link ZreplNames}).
 *
 * <p>Uses {@code rpc}, {@code zfs} and the three concern packages beside it: {@code .filter} (which
 * datasets), {@code .pruning} (the endpoints' prune call) and nothing of {@code .snapshotting}. The
 * one thing it offers them is {@link ZreplNames#isCursorBookmark}, which pruning needs to keep any
 * job's replication base; {@code PackageRulesTest} pins that.
 */
@NullMarked
package dev.zrepl4j.replication;

import org.jspecify.annotations.NullMarked;
