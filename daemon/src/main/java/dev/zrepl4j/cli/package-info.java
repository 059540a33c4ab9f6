/** dev.zrepl4j.cli. */
@NullMarked
package dev.zrepl4j.cli;

import org.jspecify.annotations.NullMarked;
