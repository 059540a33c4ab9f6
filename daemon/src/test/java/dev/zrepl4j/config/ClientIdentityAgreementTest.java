package dev.zrepl4j.config;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.rpc.transport.ClientMap;
import dev.zrepl4j.rpc.transport.LocalListeners;
import dev.zrepl4j.rpc.transport.TlsServerSettings;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import org.junit.jupiter.api.Test;

/**
 * configcheck and the daemon's run-time checks (the transports that admit a client identity) give
 * the same answer for every name: issue 12 found configcheck accepting "my host" where the daemon
 * then refused it.
 */
class ClientIdentityAgreementTest {

  @Property(tries = 1500)
  void configcheckAcceptsAnIdentityExactlyWhenTheTransportsDo(@ForAll("names") String name) {
    boolean configcheck = configAccepts(name);
    assertThat(transportsAccept(name)).as("transports on %s", show(name)).isEqualTo(configcheck);
  }

  @Test
  void edgeCasesAgreeAndSpaceIsAllowed() {
    for (var ok : List.of("my host", "a", "Az09-_.: x", "a".repeat(255), "...", ".a")) {
      assertThat(configAccepts(ok)).as(ok).isTrue();
      assertThat(transportsAccept(ok)).as(ok).isTrue();
    }
    for (var bad :
        List.of(
            "",
            ".",
            "..",
            "a/b",
            "a@b",
            "a#b",
            "a%b",
            "a*b",
            "é",
            "日本",
            "😀",
            "a\tb",
            "a".repeat(256))) {
      assertThat(configAccepts(bad)).as(show(bad)).isFalse();
      assertThat(transportsAccept(bad)).as(show(bad)).isFalse();
    }
  }

  @Provide
  Arbitrary<String> names() {
    var chars =
        Arbitraries.strings()
            .withChars("abzAZ09-_.: /@#%*\t\n\"\\'éü日\u0000\u007f")
            .ofMinLength(0)
            .ofMaxLength(12);
    var specials =
        Arbitraries.of(
            "",
            ".",
            "..",
            "...",
            " ",
            "a b",
            "😀",
            "a😀",
            "\uD800",
            "a".repeat(254),
            "a".repeat(255),
            "a".repeat(256),
            "a ".repeat(128));
    return Arbitraries.frequencyOf(Tuple.of(8, chars), Tuple.of(2, specials));
  }

  /** What configcheck says of a sink serving this client (stdinserver, tls and tcp forms). */
  private static boolean configAccepts(String name) {
    var q = quoted(name);
    var yaml =
        """
        jobs:
        - name: s1
          type: sink
          root_fs: pool/sink
          serve: {type: stdinserver, client_identities: [NAME]}
        - name: s2
          type: sink
          root_fs: pool/sink2
          serve: {type: tls, listen: ":1", ca: /c, cert: /c, key: /k, client_cns: [NAME]}
        - name: s3
          type: sink
          root_fs: pool/sink3
          serve: {type: tcp, listen: ":2", clients: {"10.0.0.1": NAME}}
        - name: p1
          type: pull
          root_fs: pool/pull
          interval: manual
          connect: {type: local, listener_name: l, client_identity: NAME}
          pruning: {keep_sender: [], keep_receiver: []}
        """
            .replace("NAME", q);
    int problems;
    try {
      ConfigParser.parse(yaml, Path.of("agree.yml"));
      return true;
    } catch (ConfigException e) {
      problems = e.problems().size();
    }
    // all four places must refuse it, each naming the identity
    assertThat(problems).as("problems for %s", show(name)).isEqualTo(4);
    return false;
  }

  /** What the transports say when the daemon starts them (and a local client dials). */
  private static boolean transportsAccept(String name) {
    boolean map = accepts(() -> ClientMap.parse(Map.of("10.0.0.1", name)));
    boolean tls =
        accepts(
            () ->
                new TlsServerSettings(
                    Path.of("/c"),
                    Path.of("/c"),
                    Path.of("/k"),
                    List.of(name),
                    Duration.ofSeconds(1)));
    boolean local;
    try {
      new LocalListeners().dial("nobody", name).close();
      local = true;
    } catch (IOException e) {
      local = true; // identity accepted, no listener registered
    } catch (IllegalArgumentException e) {
      local = false;
    }
    assertThat(List.of(map, tls, local)).as("transports on %s", show(name)).containsOnly(map);
    return map;
  }

  private static boolean accepts(Runnable r) {
    try {
      r.run();
      return true;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  /** A YAML double-quoted scalar holding exactly {@code s}. */
  private static String quoted(String s) {
    var sb = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') {
        sb.append('\\').append(c);
      } else if (c >= 0x20 && c < 0x7f) {
        sb.append(c);
      } else {
        sb.append(String.format("\\u%04x", (int) c));
      }
    }
    return sb.append('"').toString();
  }

  private static String show(String s) {
    return s.length() > 20 ? s.substring(0, 20) + "…(" + s.length() + ")" : "'" + s + "'";
  }
}
