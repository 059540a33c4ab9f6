/** dev.zrepl4j.daemon. */
@NullMarked
package dev.zrepl4j.daemon;

import org.jspecify.annotations.NullMarked;
