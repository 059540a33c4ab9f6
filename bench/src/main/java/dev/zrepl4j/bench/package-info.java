/** dev.zrepl4j.bench. */
@NullMarked
package dev.zrepl4j.bench;

import org.jspecify.annotations.NullMarked;
