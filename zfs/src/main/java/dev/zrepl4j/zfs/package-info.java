/** dev.zrepl4j.zfs. */
@NullMarked
package dev.zrepl4j.zfs;

import org.jspecify.annotations.NullMarked;
