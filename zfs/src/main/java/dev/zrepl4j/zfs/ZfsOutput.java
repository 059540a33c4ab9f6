package dev.zrepl4j.zfs;

import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Strict parsers for the {@code -H} (tab-separated, no header) output of {@code zfs}. Stateless.
 *
 * <p>Implementation notes: every command is run with a fixed column list in which at most one
 * column is free text (a property value, a hold tag); dataset names, property names, numbers and
 * sources cannot contain a TAB. The free column is located by splitting at the first tabs from the
 * left and the last tabs from the right, so a TAB inside a value is kept as part of the value. A
 * line with too few fields, an unparsable number, a bad name or an unterminated last line is a
 * {@link ZfsParseException} naming the line: nothing is skipped. A NEWLINE inside a property value
 * cannot be told apart from a garbled line; it fails loudly too.
 */
final class ZfsOutput {
  private ZfsOutput() {}

  /** One line of {@code zfs get -H -p -o name,property,value,source}. */
  record PropertyRow(String name, String property, String value, String source) {}

  /**
   * Splits {@code line} into {@code left} fixed fields, one free field, and {@code right} fixed
   * fields.
   */
  static List<String> split(String line, long lineNo, int left, int right)
      throws ZfsParseException {
    var fields = new ArrayList<String>(left + 1 + right);
    int start = 0;
    for (int i = 0; i < left; i++) {
      int tab = line.indexOf('\t', start);
      if (tab < 0) {
        throw fieldCount(line, lineNo, left + 1 + right);
      }
      fields.add(line.substring(start, tab));
      start = tab + 1;
    }
    var rightFields = new ArrayList<String>(right);
    int end = line.length();
    for (int i = 0; i < right; i++) {
      int tab = line.lastIndexOf('\t', end - 1);
      if (tab < start) {
        throw fieldCount(line, lineNo, left + 1 + right);
      }
      rightFields.addFirst(line.substring(tab + 1, end));
      end = tab;
    }
    fields.add(line.substring(start, end));
    fields.addAll(rightFields);
    return fields;
  }

  private static ZfsParseException fieldCount(String line, long lineNo, int n) {
    return new ZfsParseException(
        "line " + lineNo + ": expected " + n + " tab-separated fields: '" + line + "'");
  }

  /** {@code zfs list -H -o name ...}: one dataset path per line. */
  static List<DatasetPath> parseNames(InputStream in) throws IOException {
    var r = new LineReader(in);
    var out = new ArrayList<DatasetPath>();
    String line;
    while ((line = r.readLine()) != null) {
      out.add(datasetPath(line, r.lineNumber(), line));
    }
    return out;
  }

  static DatasetPath datasetPath(String s, long lineNo, String line) throws ZfsParseException {
    if (s.isEmpty() || s.indexOf('\t') >= 0) {
      throw new ZfsParseException("line " + lineNo + ": bad dataset name: '" + line + "'");
    }
    try {
      return DatasetPath.parse(s);
    } catch (IllegalArgumentException e) {
      throw new ZfsParseException("line " + lineNo + ": " + e.getMessage() + ": '" + line + "'");
    }
  }

  /**
   * {@code zfs list -H -p -o name,guid,createtxg,creation,userrefs -t snapshot,bookmark -d 1 FS...}
   * (OpenZFS). Returns the versions per filesystem, each list ordered by createtxg.
   */
  static Map<DatasetPath, List<FilesystemVersion>> parseVersionList(InputStream in)
      throws IOException {
    var r = new LineReader(in);
    var out = new LinkedHashMap<DatasetPath, List<FilesystemVersion>>();
    String line;
    while ((line = r.readLine()) != null) {
      long no = r.lineNumber();
      var f = split(line, no, 0, 4);
      var id = versionName(f.get(0), no, line);
      var v =
          version(
              id,
              unsigned(f.get(1), "guid", no, line),
              unsigned(f.get(2), "createtxg", no, line),
              creation(f.get(3), no, line),
              userRefs(f.get(4), id.type(), no, line),
              no,
              line);
      out.computeIfAbsent(v.filesystem(), k -> new ArrayList<>()).add(v);
    }
    out.values().forEach(ZfsOutput::sortByTxg);
    return out;
  }

  /** {@code zfs get -H -p -o name,property,value,source PROPS DATASET...}. */
  static List<PropertyRow> parseProperties(InputStream in) throws IOException {
    var r = new LineReader(in);
    var out = new ArrayList<PropertyRow>();
    String line;
    while ((line = r.readLine()) != null) {
      long no = r.lineNumber();
      var f = split(line, no, 2, 1);
      if (f.get(0).isEmpty() || f.get(1).isEmpty() || f.get(3).isEmpty()) {
        throw new ZfsParseException(
            "line " + no + ": empty name, property or source: '" + line + "'");
      }
      out.add(new PropertyRow(f.get(0), f.get(1), f.get(2), f.get(3)));
    }
    return out;
  }

  static final List<String> VERSION_PROPERTIES =
      List.of("guid", "createtxg", "creation", "userrefs");

  /**
   * The versions in {@code zfs get -H -p -o name,property,value,source
   * guid,createtxg,creation,userrefs -d 1 FS...} (zfs-fuse has no {@code list -p}). Rows of
   * filesystems are checked and ignored; each version must have all four properties.
   */
  static Map<DatasetPath, List<FilesystemVersion>> versionsFromProperties(List<PropertyRow> rows)
      throws ZfsParseException {
    var byName = new LinkedHashMap<String, Map<String, String>>();
    for (var row : rows) {
      if (!VERSION_PROPERTIES.contains(row.property())) {
        throw new ZfsParseException("unexpected property in version listing: " + row);
      }
      if (row.name().indexOf('@') < 0 && row.name().indexOf('#') < 0) {
        continue;
      }
      var props = byName.computeIfAbsent(row.name(), k -> new HashMap<>());
      if (props.put(row.property(), row.value()) != null) {
        throw new ZfsParseException("property listed twice: " + row);
      }
    }
    var out = new LinkedHashMap<DatasetPath, List<FilesystemVersion>>();
    for (var e : byName.entrySet()) {
      var name = e.getKey();
      var p = e.getValue();
      if (!p.keySet().containsAll(VERSION_PROPERTIES)) {
        throw new ZfsParseException(
            "version " + name + ": missing properties, got only " + p.keySet());
      }
      var id = versionName(name, 0, name);
      var v =
          version(
              id,
              unsigned(p.getOrDefault("guid", ""), "guid", 0, name),
              unsigned(p.getOrDefault("createtxg", ""), "createtxg", 0, name),
              creation(p.getOrDefault("creation", ""), 0, name),
              userRefs(p.getOrDefault("userrefs", ""), id.type(), 0, name),
              0,
              name);
      out.computeIfAbsent(v.filesystem(), k -> new ArrayList<>()).add(v);
    }
    out.values().forEach(ZfsOutput::sortByTxg);
    return out;
  }

  /** A version, its name checked by {@link FilesystemVersion}'s rules (no TAB, no '@' ...). */
  private static FilesystemVersion version(
      FilesystemVersion.FullName id,
      long guid,
      long createTxg,
      Instant creation,
      long userRefs,
      long lineNo,
      String line)
      throws ZfsParseException {
    try {
      return new FilesystemVersion(
          id.filesystem(), id.type(), id.name(), guid, createTxg, creation, userRefs);
    } catch (IllegalArgumentException e) {
      throw new ZfsParseException(where(lineNo) + e.getMessage() + ": '" + line + "'");
    }
  }

  private static void sortByTxg(List<FilesystemVersion> versions) {
    versions.sort(Comparator.comparing(FilesystemVersion::createTxg, Long::compareUnsigned));
  }

  /** {@code zfs holds -H -p SNAP...}: name, tag (free text), timestamp. */
  static List<Hold> parseHolds(InputStream in) throws IOException {
    var r = new LineReader(in);
    var out = new ArrayList<Hold>();
    String line;
    while ((line = r.readLine()) != null) {
      long no = r.lineNumber();
      var f = split(line, no, 1, 1);
      var id = versionName(f.get(0), no, line);
      if (id.type() != VersionType.SNAPSHOT || f.get(1).isEmpty()) {
        throw new ZfsParseException("line " + no + ": not a hold: '" + line + "'");
      }
      out.add(new Hold(id, f.get(1), creation(f.get(2), no, line)));
    }
    return out;
  }

  /** The {@code size} line of {@code zfs send -nvP} (OpenZFS prints it to stdout or stderr). */
  static long parseSendSize(String output) throws ZfsParseException {
    long size = -1;
    for (var line : output.split("\n", -1)) {
      var f = line.split("\t", -1);
      if (f.length == 2 && f[0].equals("size")) {
        size = unsigned(f[1], "size", 0, line);
      }
    }
    if (size < 0) {
      throw new ZfsParseException("no 'size' line in output of zfs send -nvP: '" + output + "'");
    }
    return size;
  }

  static FilesystemVersion.FullName versionName(String s, long lineNo, String line)
      throws ZfsParseException {
    try {
      return FilesystemVersion.parseFullName(s);
    } catch (IllegalArgumentException e) {
      throw new ZfsParseException(where(lineNo) + e.getMessage() + ": '" + line + "'");
    }
  }

  static long unsigned(String s, String what, long lineNo, String line) throws ZfsParseException {
    if (s.isEmpty() || s.length() > 20 || !s.chars().allMatch(c -> c >= '0' && c <= '9')) {
      throw new ZfsParseException(
          where(lineNo) + what + " is not an unsigned decimal: '" + s + "' in '" + line + "'");
    }
    try {
      return Long.parseUnsignedLong(s);
    } catch (NumberFormatException e) {
      throw new ZfsParseException(
          where(lineNo) + what + " exceeds 64 bits: '" + s + "' in '" + line + "'");
    }
  }

  private static Instant creation(String s, long lineNo, String line) throws ZfsParseException {
    long secs = unsigned(s, "creation", lineNo, line);
    if (secs < 0 || secs > Instant.MAX.getEpochSecond()) {
      throw new ZfsParseException(where(lineNo) + "creation out of range: '" + line + "'");
    }
    return Instant.ofEpochSecond(secs);
  }

  private static long userRefs(String s, VersionType type, long lineNo, String line)
      throws ZfsParseException {
    if (s.equals("-") && type == VersionType.BOOKMARK) {
      return FilesystemVersion.UNKNOWN_USERREFS;
    }
    long n = unsigned(s, "userrefs", lineNo, line);
    if (n < 0) {
      throw new ZfsParseException(where(lineNo) + "userrefs out of range: '" + line + "'");
    }
    return n;
  }

  private static String where(long lineNo) {
    return lineNo > 0 ? "line " + lineNo + ": " : "";
  }
}
