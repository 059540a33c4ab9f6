package dev.zrepl4j.rpc;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/** The seed's real wire captures (hexdump -C sections), keyed by section title. */
final class SeedCaptures {
  record Exchange(byte[] clientToServer, byte[] serverToClient) {}

  private SeedCaptures() {}

  static Map<String, Exchange> load() throws IOException {
    String text;
    try (InputStream in = SeedCaptures.class.getResourceAsStream("seed-wire-captures.txt")) {
      text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    Map<String, Exchange> out = new LinkedHashMap<>();
    String title = null;
    ByteArrayOutputStream c2s = null;
    ByteArrayOutputStream s2c = null;
    ByteArrayOutputStream cur = null;
    for (String line : text.split("\n")) {
      if (line.startsWith("==== ")) {
        if (title != null) {
          out.put(title, new Exchange(c2s.toByteArray(), s2c.toByteArray()));
        }
        title = line.substring(5);
        c2s = new ByteArrayOutputStream();
        s2c = new ByteArrayOutputStream();
        cur = null;
      } else if (line.startsWith("-- client -> server")) {
        cur = c2s;
      } else if (line.startsWith("-- server -> client")) {
        cur = s2c;
      } else if (cur != null && line.matches("^[0-9a-f]{8}  .*")) {
        String hex = line.substring(10, Math.min(line.length(), 59));
        for (String b : hex.trim().split("\\s+")) {
          if (!b.isEmpty()) {
            cur.write(Integer.parseInt(b, 16));
          }
        }
      } else if (!line.startsWith("RPCError") && !line.isBlank()) {
        cur = null;
      }
    }
    if (title != null) {
      out.put(title, new Exchange(c2s.toByteArray(), s2c.toByteArray()));
    }
    return out;
  }

  static Exchange get(String titlePrefix) throws IOException {
    return load().entrySet().stream()
        .filter(e -> e.getKey().startsWith(titlePrefix))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no capture " + titlePrefix))
        .getValue();
  }
}
