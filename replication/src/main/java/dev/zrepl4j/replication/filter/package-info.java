/**
 * Dataset selection: which datasets a job touches ({@link DatasetFilter}) and where a receiver puts
 * them ({@link DatasetMapping}), both over one most-specific-pattern matcher ({@code
 * DatasetPatterns}).
 *
 * <p>Uses {@code zfs} only (dataset names, listing); nothing of the engine, {@code .pruning},
 * {@code .snapshotting} or {@code rpc}. {@code PackageRulesTest} pins that.
 */
@NullMarked
package dev.zrepl4j.replication.filter;

import org.jspecify.annotations.NullMarked;
