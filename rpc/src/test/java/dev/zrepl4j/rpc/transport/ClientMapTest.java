package dev.zrepl4j.rpc.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.rpc.RpcClient;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import dev.zrepl4j.rpc.Transport;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ClientMapTest {
  static Optional<String> id(ClientMap m, String ip) {
    return m.identity(InetAddress.ofLiteral(ip));
  }

  @Test
  void mapsAddressesAndExpandsCidrsLikeZrepl() {
    var m =
        ClientMap.parse(
            Map.of(
                "10.1.2.3", "specific-host",
                "10.1.2.0/24", "subnet-one-two-*",
                "10.1.0.0/16", "subnet-one-*",
                "fde4:8dba:82e1:1::1", "v6-special",
                "fde4:8dba:82e1::/48", "v6-48-*",
                "fde4:8dba:82e1:1::/64", "v6-64-1-*",
                "192.168.0.0/16", "my-*-server"));
    assertThat(id(m, "10.1.2.3")).contains("specific-host");
    assertThat(id(m, "10.1.2.1")).contains("subnet-one-two-10.1.2.1");
    assertThat(id(m, "10.1.3.1")).contains("subnet-one-10.1.3.1");
    assertThat(id(m, "10.2.1.1")).isEmpty();
    assertThat(id(m, "fde4:8dba:82e1:1::1")).contains("v6-special");
    assertThat(id(m, "fde4:8dba:82e1:23::1")).contains("v6-48-fde4:8dba:82e1:23::1");
    assertThat(id(m, "fde4:8dba:82e1:1:0:0:0:2")).contains("v6-64-1-fde4:8dba:82e1:1::2");
    assertThat(id(m, "fde4:8dba:82e2::1")).isEmpty();
    assertThat(id(m, "192.168.4.5")).contains("my-192.168.4.5-server");
  }

  @Test
  void fullWildcardsCoverBothFamilies() {
    var m = ClientMap.parse(Map.of("0.0.0.0/0", "*", "::/0", "v6-*"));
    assertThat(id(m, "10.123.234.24")).contains("10.123.234.24");
    assertThat(id(m, "fe80::23:42")).contains("v6-fe80::23:42");
  }

  @Test
  void formatsIpv6AsGoDoes() {
    assertThat(ClientMap.format(ClientMap.to16(InetAddress.ofLiteral("2001:db8:0:0:1:0:0:1"))))
        .isEqualTo("2001:db8::1:0:0:1");
    assertThat(ClientMap.format(ClientMap.to16(InetAddress.ofLiteral("2001:db8:0:1:1:1:1:1"))))
        .isEqualTo("2001:db8:0:1:1:1:1:1");
    assertThat(ClientMap.format(ClientMap.to16(InetAddress.ofLiteral("::")))).isEqualTo("::");
    assertThat(ClientMap.format(ClientMap.to16(InetAddress.ofLiteral("::1")))).isEqualTo("::1");
    assertThat(ClientMap.format(ClientMap.to16(InetAddress.ofLiteral("1::")))).isEqualTo("1::");
    assertThat(ClientMap.format(ClientMap.to16(InetAddress.ofLiteral("1:0:0:2:0:0:0:3"))))
        .isEqualTo("1:0:0:2::3");
    assertThat(ClientMap.format(ClientMap.to16(InetAddress.ofLiteral("FE80::AB"))))
        .isEqualTo("fe80::ab");
  }

  @Test
  void rejectsBadKeysAndIdentitiesNamingTheKey() {
    assertThatThrownBy(() -> ClientMap.parse(Map.of("jimmy", "db")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'jimmy'")
        .hasMessageContaining("not an IP address or CIDR");
    assertThatThrownBy(() -> ClientMap.parse(Map.of("backup.example.com", "db")))
        .hasMessageContaining("'backup.example.com'");
    assertThatThrownBy(() -> ClientMap.parse(Map.of("192.168.1.2", "db-*")))
        .hasMessageContaining("'192.168.1.2'")
        .hasMessageContaining("must not have '*'");
    assertThatThrownBy(() -> ClientMap.parse(Map.of("192.168.1.0/24", "db-")))
        .hasMessageContaining("'192.168.1.0/24'")
        .hasMessageContaining("exactly one '*'");
    assertThatThrownBy(() -> ClientMap.parse(Map.of("192.168.1.0/24", "db-*-*")))
        .hasMessageContaining("exactly one '*'");
    assertThatThrownBy(() -> ClientMap.parse(Map.of("192.168.1.0/33", "db-*")))
        .hasMessageContaining("bad prefix length");
    assertThatThrownBy(() -> ClientMap.parse(Map.of("fe80::/16", "db@-*")))
        .hasMessageContaining("'fe80::/16'")
        .hasMessageContaining("'@'");
    for (String bad : new String[] {"a/b", "a@b", "a#b", "a%b", "", "..", "ä", "a\tb"}) {
      assertThatThrownBy(() -> ClientMap.parse(Map.of("10.0.0.1", bad)))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("'10.0.0.1'");
    }
    assertThatThrownBy(() -> ClientMap.parse(Map.of("10.0.0.1", "a", "::ffff:10.0.0.1", "b")))
        .hasMessageContaining("name the same addresses");
  }

  @Test
  void acceptsEveryDatasetComponentCharacter() {
    var m = ClientMap.parse(Map.of("10.0.0.1", "Az09_-.: x"));
    assertThat(id(m, "10.0.0.1")).contains("Az09_-.: x");
  }

  @Test
  void zonesMatchOnlyTheirZone() {
    var m = ClientMap.parse(Map.of("fe80::/16%eth1", "san-*", "fe80::/16", "plain-*"));
    assertThat(id(m, "fe80::23:42")).contains("plain-fe80::23:42");
    assertThat(
            ClientMap.parse(Map.of("fe80::/16%eth1", "san-*"))
                .identity(InetAddress.ofLiteral("fe80::1")))
        .isEmpty();
  }

  @Test
  void listenTcpRefusesAnUnknownClientAndKeepsServing() throws Exception {
    var options = RpcOptions.defaults();
    try (var server = new RpcServer(options).register("t", new Api());
        var l =
            server.listenTcp(
                new InetSocketAddress("127.0.0.1", 0),
                ClientMap.parse(Map.of("127.0.0.2", "good", "10.0.0.0/8", "ten-*")))) {
      // from 127.0.0.1: no entry
      assertThatThrownBy(
              () ->
                  RpcClient.tcp("127.0.0.1", l.port(), java.time.Duration.ofSeconds(5), options)
                      .call("t.who", new Api.Req("x", 1), Api.Resp.class))
          .isInstanceOf(IOException.class);
      // from 127.0.0.2: served as "good"
      for (int i = 0; i < 2; i++) {
        var s = new Socket();
        s.bind(new InetSocketAddress("127.0.0.2", 0));
        s.connect(new InetSocketAddress("127.0.0.1", l.port()), 5000);
        try (RpcClient c = RpcClient.connect(Transport.of(s), options)) {
          assertThat(c.call("t.who", new Api.Req("x", 1), Api.Resp.class).identity())
              .isEqualTo("good");
        }
      }
    }
  }
}
