/** dev.zrepl4j.rpc. */
@NullMarked
package dev.zrepl4j.rpc;

import org.jspecify.annotations.NullMarked;
