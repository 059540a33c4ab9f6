package dev.zrepl4j.daemon;

import java.util.LinkedHashMap;
import java.util.SequencedMap;

/** A small logfmt parser for the tests: {@code key=value key="quoted \"value\""}, in order. */
final class Logfmt {
  private Logfmt() {}

  static SequencedMap<String, String> parse(String line) {
    var out = new LinkedHashMap<String, String>();
    int i = 0;
    int n = line.length();
    while (i < n) {
      while (i < n && line.charAt(i) == ' ') {
        i++;
      }
      if (i >= n) {
        break;
      }
      int eq = line.indexOf('=', i);
      if (eq < 0) {
        throw new IllegalArgumentException("no '=' after key at " + i + " in: " + line);
      }
      var key = line.substring(i, eq);
      if (key.isEmpty() || key.contains(" ") || key.contains("\"")) {
        throw new IllegalArgumentException("bad key '" + key + "' in: " + line);
      }
      i = eq + 1;
      var v = new StringBuilder();
      if (i < n && line.charAt(i) == '"') {
        i++;
        while (true) {
          if (i >= n) {
            throw new IllegalArgumentException("unterminated quote in: " + line);
          }
          char c = line.charAt(i++);
          if (c == '"') {
            break;
          }
          if (c != '\\') {
            v.append(c);
            continue;
          }
          char e = line.charAt(i++);
          switch (e) {
            case 'n' -> v.append('\n');
            case 'r' -> v.append('\r');
            case 't' -> v.append('\t');
            case '"' -> v.append('"');
            case '\\' -> v.append('\\');
            case 'u' -> {
              v.append((char) Integer.parseInt(line.substring(i, i + 4), 16));
              i += 4;
            }
            default -> throw new IllegalArgumentException("bad escape \\" + e + " in: " + line);
          }
        }
        if (i < n && line.charAt(i) != ' ') {
          throw new IllegalArgumentException("no space after a quoted value in: " + line);
        }
      } else {
        while (i < n && line.charAt(i) != ' ') {
          char c = line.charAt(i++);
          if (c == '"' || c == '=') {
            throw new IllegalArgumentException("unquoted '" + c + "' in: " + line);
          }
          v.append(c);
        }
      }
      if (out.put(key, v.toString()) != null) {
        throw new IllegalArgumentException("duplicate key " + key + " in: " + line);
      }
    }
    return out;
  }
}
