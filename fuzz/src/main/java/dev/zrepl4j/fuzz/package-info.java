/**
 * The fuzzing harness shared by the parsers' fuzz tests ({@code *FuzzTest} in rpc, zfs and daemon):
 * the property each input must satisfy, its deadline and its allocation bound. JDK only; used by
 * tests alone (a test-scoped dependency).
 */
@NullMarked
package dev.zrepl4j.fuzz;

import org.jspecify.annotations.NullMarked;
