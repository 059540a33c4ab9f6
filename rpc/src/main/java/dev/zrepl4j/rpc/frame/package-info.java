/** dev.zrepl4j.rpc.frame. */
@NullMarked
package dev.zrepl4j.rpc.frame;

import org.jspecify.annotations.NullMarked;
