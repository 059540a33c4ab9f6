package dev.zrepl4j.zfs;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;

/**
 * Reads {@code \n}-terminated UTF-8 lines strictly: an unterminated last line, malformed UTF-8 or a
 * line longer than the limit is a {@link ZfsParseException}, never silently cut or skipped (the
 * seed cut lines over 1 KiB). Not thread-safe.
 */
final class LineReader {
  static final int MAX_LINE_BYTES = 1 << 20;

  private final InputStream in;
  private final byte[] buf = new byte[8192];
  private int pos;
  private int limit;
  private long lineNumber;

  LineReader(InputStream in) {
    this.in = in;
  }

  /** Number of the line last returned (1-based). */
  long lineNumber() {
    return lineNumber;
  }

  /** The next line without its {@code \n}, or null at the end of the stream. */
  @Nullable String readLine() throws IOException {
    var line = new ByteArrayOutputStream();
    while (true) {
      if (pos == limit) {
        limit = in.read(buf, 0, buf.length);
        pos = 0;
        if (limit == -1) {
          limit = 0;
          if (line.size() == 0) {
            return null;
          }
          throw new ZfsParseException(
              "truncated output: line "
                  + (lineNumber + 1)
                  + " has no line end: '"
                  + line.toString(StandardCharsets.UTF_8)
                  + "'");
        }
      }
      int start = pos;
      while (pos < limit && buf[pos] != '\n') {
        pos++;
      }
      line.write(buf, start, pos - start);
      if (line.size() > MAX_LINE_BYTES) {
        throw new ZfsParseException(
            "line " + (lineNumber + 1) + " longer than " + MAX_LINE_BYTES + " bytes");
      }
      if (pos < limit) {
        pos++; // the '\n'
        lineNumber++;
        return decode(line.toByteArray());
      }
    }
  }

  private String decode(byte[] bytes) throws ZfsParseException {
    try {
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes))
          .toString();
    } catch (CharacterCodingException e) {
      throw new ZfsParseException(
          "line "
              + lineNumber
              + " is not valid UTF-8: '"
              + new String(bytes, StandardCharsets.UTF_8)
              + "'");
    }
  }
}
