/**
 * The transports of zrepl's config ({@code tcp} with a client map, {@code tls}, {@code
 * ssh+stdinserver}, {@code local}): each turns a connection into a {@link
 * dev.zrepl4j.rpc.Transport} and a {@link dev.zrepl4j.rpc.Caller} identity for an {@link
 * dev.zrepl4j.rpc.RpcServer}, or dials one for an {@link dev.zrepl4j.rpc.RpcClient}.
 */
@NullMarked
package dev.zrepl4j.rpc.transport;

import org.jspecify.annotations.NullMarked;
