package dev.zrepl4j.rpc;

import static dev.zrepl4j.rpc.frame.Limits.MAX_HEADER_MESSAGE;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;

/**
 * The JSON object of a header message. The five seed keys are always written, in the seed's order,
 * with Go's escaping, followed by a newline — byte for byte what the seed writes. The extension key
 * {@code Code} is written only to peers that negotiated protocol version 1.
 *
 * @param endpoint endpoint name in requests; "" in responses
 * @param dataType type of the body that follows
 * @param accept body type the client wants back; UNSET in responses
 * @param status response status; NONE in requests
 * @param errorMessage human-readable error; "" on success
 * @param code the error code name (extension), or null
 */
record Header(
    String endpoint,
    DataType dataType,
    DataType accept,
    Status status,
    String errorMessage,
    @Nullable ErrorCode code) {

  static Header request(String endpoint, DataType dataType, DataType accept) {
    return new Header(endpoint, dataType, accept, Status.NONE, "", null);
  }

  static Header ok(DataType dataType) {
    return new Header("", dataType, DataType.UNSET, Status.OK, "", null);
  }

  static Header error(ErrorCode code, String message, boolean withCode) {
    return new Header(
        "", DataType.UNSET, DataType.UNSET, code.status(), message, withCode ? code : null);
  }

  /** The error this response carries, for the caller. */
  RemoteException toException() {
    ErrorCode c = code != null ? code : ErrorCode.of(status);
    return new RemoteException(
        c, errorMessage.isEmpty() ? "status " + status.wire() : errorMessage);
  }

  /** Encodes the header; an error message that would not fit into 4096 bytes is shortened. */
  byte[] encode() {
    byte[] b = encode(errorMessage);
    if (b.length <= MAX_HEADER_MESSAGE) {
      return b;
    }
    // shorten the message (never the endpoint: a request with a too-long name is refused earlier)
    String m = errorMessage;
    while (b.length > MAX_HEADER_MESSAGE && !m.isEmpty()) {
      int cut = Math.max(0, m.length() - (b.length - MAX_HEADER_MESSAGE) - 16);
      m = m.substring(0, cut);
      b = encode(m + " …(truncated)");
    }
    return b;
  }

  private byte[] encode(String message) {
    var out = new ByteArrayOutputStream(128 + endpoint.length() + message.length());
    ascii(out, "{\"Endpoint\":");
    goString(out, endpoint);
    ascii(out, ",\"DataType\":" + dataType.wire());
    ascii(out, ",\"Accept\":" + accept.wire());
    ascii(out, ",\"Error\":" + status.wire());
    ascii(out, ",\"ErrorMessage\":");
    goString(out, message);
    if (code != null) {
      ascii(out, ",\"Code\":\"" + code.name() + "\"");
    }
    ascii(out, "}\n");
    return out.toByteArray();
  }

  private static void ascii(ByteArrayOutputStream out, String s) {
    for (int i = 0; i < s.length(); i++) {
      out.write(s.charAt(i));
    }
  }

  private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

  /** Writes a JSON string the way Go's encoding/json does (HTML-safe escaping). */
  static void goString(ByteArrayOutputStream out, String s) {
    out.write('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> ascii(out, "\\\"");
        case '\\' -> ascii(out, "\\\\");
        case '\n' -> ascii(out, "\\n");
        case '\r' -> ascii(out, "\\r");
        case '\t' -> ascii(out, "\\t");
        default -> {
          if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == '\u2028' || c == '\u2029') {
            ascii(out, "\\u");
            out.write(HEX[(c >> 12) & 0xF]);
            out.write(HEX[(c >> 8) & 0xF]);
            out.write(HEX[(c >> 4) & 0xF]);
            out.write(HEX[c & 0xF]);
          } else if (c < 0x80) {
            out.write(c);
          } else if (Character.isSurrogate(c)) {
            int cp = s.codePointAt(i);
            if (Character.isSupplementaryCodePoint(cp)) {
              out.writeBytes(new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8));
              i++;
            } else {
              out.writeBytes("\uFFFD".getBytes(StandardCharsets.UTF_8)); // lone surrogate
            }
          } else {
            out.writeBytes(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
          }
        }
      }
    }
    out.write('"');
  }
}
