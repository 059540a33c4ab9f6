package dev.zrepl4j.rpc.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigInteger;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** ClientMap against a reference model: BigInteger containment and most-specific-wins. */
class ClientMapPropertiesTest {
  record Net(byte[] addr, int prefix, boolean v4) {
    String key() throws UnknownHostException {
      String ip = InetAddress.getByAddress(addr).getHostAddress();
      return ip + "/" + prefix;
    }

    BigInteger network16() {
      return masked(big16(addr), prefix + (v4 ? 96 : 0));
    }
  }

  static BigInteger big16(byte[] a) {
    byte[] b = a;
    if (a.length == 4) {
      b = new byte[16];
      b[10] = (byte) 0xFF;
      b[11] = (byte) 0xFF;
      System.arraycopy(a, 0, b, 12, 4);
    }
    return new BigInteger(1, b);
  }

  static BigInteger masked(BigInteger x, int prefix) {
    BigInteger all = BigInteger.ONE.shiftLeft(128).subtract(BigInteger.ONE);
    BigInteger mask = all.shiftRight(prefix).xor(all);
    return x.and(mask);
  }

  /** Addresses near a few bases, so that networks overlap often. */
  @Provide
  Arbitrary<byte[]> addresses() {
    var v4 =
        Arbitraries.of(10, 192)
            .flatMap(
                first ->
                    Arbitraries.bytes()
                        .array(byte[].class)
                        .ofSize(3)
                        .map(
                            rest ->
                                new byte[] {
                                  (byte) (int) first, rest[0], (byte) (rest[1] & 3), rest[2]
                                }));
    var v6 =
        Arbitraries.bytes()
            .array(byte[].class)
            .ofSize(4)
            .map(
                rest -> {
                  byte[] b = new byte[16];
                  b[0] = (byte) 0xfd;
                  b[1] = (byte) (rest[0] & 1);
                  b[14] = rest[1];
                  b[15] = rest[2];
                  b[7] = (byte) (rest[3] & 3);
                  return b;
                });
    return Arbitraries.oneOf(v4, v6);
  }

  @Provide
  Arbitrary<Net> nets() {
    return addresses()
        .flatMap(
            a -> {
              int bits = a.length * 8;
              return Arbitraries.integers().between(0, bits).map(p -> new Net(a, p, a.length == 4));
            });
  }

  @Provide
  Arbitrary<List<Net>> netLists() {
    return nets().list().ofMinSize(1).ofMaxSize(8);
  }

  @Property(tries = 500)
  void mostSpecificContainingEntryDecides(
      @ForAll("netLists") List<Net> nets, @ForAll("addresses") byte[] client) throws Exception {
    Map<String, String> clients = new HashMap<>();
    Map<BigInteger, Integer> seen = new HashMap<>(); // network16 * 256 + prefix16 -> index
    var kept = new java.util.ArrayList<Net>();
    for (Net n : nets) {
      BigInteger k =
          n.network16().shiftLeft(8).add(BigInteger.valueOf(n.prefix() + (n.v4() ? 96 : 0)));
      if (seen.putIfAbsent(k, kept.size()) == null) {
        clients.put(n.key(), "n" + kept.size() + "-*");
        kept.add(n);
      }
    }
    var map = ClientMap.parse(clients);
    // reference: the longest prefix (in 128-bit terms) whose network contains the client
    BigInteger c = big16(client);
    int best = -1;
    int bestPrefix = -1;
    for (int i = 0; i < kept.size(); i++) {
      Net n = kept.get(i);
      int p16 = n.prefix() + (n.v4() ? 96 : 0);
      if (masked(c, p16).equals(n.network16()) && p16 > bestPrefix) {
        best = i;
        bestPrefix = p16;
      }
    }
    Optional<String> got = map.identity(InetAddress.getByAddress(client));
    if (best < 0) {
      assertThat(got).isEmpty();
    } else {
      String ip = ClientMap.format(ClientMap.to16(InetAddress.getByAddress(client)));
      assertThat(got).contains("n" + best + "-" + ip);
    }
  }

  @Property(tries = 300)
  void anExactAddressBeatsEveryCidr(
      @ForAll("netLists") List<Net> nets, @ForAll("addresses") byte[] client) throws Exception {
    Map<String, String> clients = new HashMap<>();
    var seen = new java.util.HashSet<BigInteger>();
    for (Net n : nets) {
      int p16 = n.prefix() + (n.v4() ? 96 : 0);
      if (p16 < 128 && seen.add(n.network16().shiftLeft(8).add(BigInteger.valueOf(p16)))) {
        clients.put(n.key(), "cidr-*");
      }
    }
    clients.put(InetAddress.getByAddress(client).getHostAddress(), "exact");
    assertThat(ClientMap.parse(clients).identity(InetAddress.getByAddress(client)))
        .contains("exact");
  }

  @Property(tries = 300)
  void formatRoundTripsThroughTheJdkParser(@ForAll("addresses") byte[] a) throws Exception {
    String s = ClientMap.format(ClientMap.to16(InetAddress.getByAddress(a)));
    assertThat(InetAddress.ofLiteral(s)).isEqualTo(InetAddress.getByAddress(a));
    assertThat(Identities.problem("x-" + s)).isEmpty();
  }
}
