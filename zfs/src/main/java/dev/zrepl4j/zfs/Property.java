package dev.zrepl4j.zfs;

/**
 * A property value as {@code zfs get -H -p} prints it.
 *
 * @param value the value; {@code -} when unset
 * @param source {@code local}, {@code default}, {@code inherited from X}, {@code received}, {@code
 *     -}, ...
 */
public record Property(String value, String source) {
  /** Whether the property has a value ({@code -} means unset for user properties). */
  public boolean isSet() {
    return !value.equals("-");
  }
}
