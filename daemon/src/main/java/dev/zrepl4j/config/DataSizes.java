package dev.zrepl4j.config;

import java.util.regex.Pattern;

/**
 * zrepl's data size syntax (ZREPL-MODERN.md §1.1): {@code
 * ^([-0-9.]*)\s*(bit|(|K|Ki|M|Mi|G|Gi|T|Ti)([bB]))$}, e.g. {@code 23.5 MiB}, {@code 12345 B},
 * {@code -1 B}, {@code 100 Mb}. As in zrepl, a lowercase {@code b} counts bits and an uppercase
 * {@code B} bytes; K, M, G, T are powers of 1000 and Ki, Mi, Gi, Ti powers of 1024. Stateless.
 */
final class DataSizes {
  private static final Pattern SIZE =
      Pattern.compile("^([-0-9.]*)\\s*(bit|(|K|Ki|M|Mi|G|Gi|T|Ti)([bB]))$");
  private static final Pattern NUMBER = Pattern.compile("-?(\\d+\\.?\\d*|\\.\\d+)");

  private DataSizes() {}

  /**
   * Parses a size into bytes (rounded towards zero; bits are divided by 8).
   *
   * @throws IllegalArgumentException naming the value if it does not match the syntax or overflows
   */
  static long parseBytes(String s) {
    return (long) bytes(s);
  }

  /**
   * Parses a size into bytes, as exactly as a double holds it (bits are divided by 8).
   *
   * @throws IllegalArgumentException naming the value if it does not match the syntax or overflows
   */
  static double bytes(String s) {
    var m = SIZE.matcher(s);
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "invalid data size '"
              + s
              + "': expected a number and a unit such as B, KiB, MB, GiB or bit (e.g. 23.5 MiB)");
    }
    var number = m.group(1);
    if (!NUMBER.matcher(number).matches()) {
      throw new IllegalArgumentException(
          "invalid data size '" + s + "': bad number '" + number + "'");
    }
    double value = Double.parseDouble(number);
    double bits;
    if (m.group(2).equals("bit")) {
      bits = value;
    } else {
      double mult =
          switch (m.group(3)) {
            case "" -> 1;
            case "K" -> 1e3;
            case "Ki" -> 0x1p10;
            case "M" -> 1e6;
            case "Mi" -> 0x1p20;
            case "G" -> 1e9;
            case "Gi" -> 0x1p30;
            case "T" -> 1e12;
            case "Ti" -> 0x1p40;
            default -> throw new IllegalStateException(m.group(3));
          };
      bits = value * mult * (m.group(4).equals("B") ? 8 : 1);
    }
    double bytes = bits / 8;
    if (Math.abs(bytes) >= 0x1p63) {
      throw new IllegalArgumentException("data size '" + s + "' is out of range");
    }
    return bytes;
  }
}
