/** dev.zrepl4j.config. */
@NullMarked
package dev.zrepl4j.config;

import org.jspecify.annotations.NullMarked;
