/**
 * Pruning: the keep rules ({@link PruneRule}, their wire and config form {@link PruneRuleSpec},
 * zrepl's {@link RetentionGrid} and duration syntax {@link Durations}), the planner that applies
 * them under the one invariant ({@link Pruner}, {@link PruneGuard}, {@link PrunePlan}), the
 * executor that destroys on a real ZFS ({@link PruneExecutor}), and the records of the endpoints'
 * prune call ({@link PruneRequest}, {@link PruneResult}). What replication knows enters as a {@link
 * PruneContext}.
 *
 * <p>Uses {@code zfs} only, plus the engine's {@code ZreplNames.isCursorBookmark} (a bookmark of
 * any job's cursor protects its snapshot); nothing of {@code rpc}, {@code .snapshotting} or {@code
 * .filter}. {@code PackageRulesTest} pins that.
 */
@NullMarked
package dev.zrepl4j.replication.pruning;

import org.jspecify.annotations.NullMarked;
