/** dev.zrepl4j.replication. */
@NullMarked
package dev.zrepl4j.replication;

import org.jspecify.annotations.NullMarked;
