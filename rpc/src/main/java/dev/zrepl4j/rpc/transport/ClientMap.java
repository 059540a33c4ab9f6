package dev.zrepl4j.rpc.transport;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The client identities of a {@code tcp} serve: zrepl's {@code clients:} map from an IP address or
 * CIDR to an identity, for {@link dev.zrepl4j.rpc.RpcServer#listenTcp}. Immutable and thread-safe.
 *
 * <p>The rules are zrepl's ({@code transport/tcp/serve_tcp_ipmap.go}), so that a migrated sink
 * finds its clients' datasets under the same names:
 *
 * <ul>
 *   <li>A key is an IPv4 or IPv6 address or CIDR, optionally followed by {@code %zone} (an IPv6
 *       scope, e.g. {@code fe80::/16%eth1}); an entry with a zone only matches clients with that
 *       zone, one without only clients without.
 *   <li>An address key's identity must not contain {@code *}; a CIDR key's identity must contain
 *       exactly one {@code *}, which is replaced by the client's address.
 *   <li>The most specific entry wins: every address is held as 16 bytes (IPv4 as {@code
 *       ::ffff:a.b.c.d}), an address key is a /128, and the longest prefix that contains the client
 *       decides. (So {@code ::/0} also contains IPv4 clients, as in zrepl.)
 *   <li>The address that replaces {@code *} is written as Go's {@code net.IP.String()} writes it:
 *       IPv4 dotted ({@code 10.1.2.3}), IPv6 in RFC 5952 form, lower case and with the longest run
 *       of two or more zero groups shortened to {@code ::} ({@code fde4:8dba:82e1::1}), with {@code
 *       -zone} appended for a scoped address. {@code :} and {@code .} are legal in ZFS dataset
 *       names and {@code [}, {@code ]} and {@code %} are not, which is why this form.
 *   <li>Identities (after expansion) are ZFS dataset name components ({@link Identities}): letters,
 *       digits, {@code _-.:} and space.
 * </ul>
 */
public final class ClientMap implements Function<InetSocketAddress, Optional<String>> {

  /** A network as two 64-bit halves of its 16-byte address. */
  private record Entry(String key, long hi, long lo, int prefix, String zone, String identity) {
    static Entry of(String key, byte[] addr, int prefix, String zone, String identity) {
      long hi = ByteBuffer.wrap(addr, 0, 8).getLong();
      long lo = ByteBuffer.wrap(addr, 8, 8).getLong();
      return new Entry(key, hi & maskHi(prefix), lo & maskLo(prefix), prefix, zone, identity);
    }

    boolean contains(long aHi, long aLo) {
      return (aHi & maskHi(prefix)) == hi && (aLo & maskLo(prefix)) == lo;
    }

    boolean wildcard() {
      return identity.indexOf('*') >= 0;
    }
  }

  private static long maskHi(int prefix) {
    return prefix >= 64 ? -1L : prefix == 0 ? 0L : -1L << (64 - prefix);
  }

  private static long maskLo(int prefix) {
    return prefix <= 64 ? 0L : prefix == 128 ? -1L : -1L << (128 - prefix);
  }

  private static final Comparator<Entry> MOST_SPECIFIC_FIRST =
      Comparator.comparingInt((Entry e) -> -e.prefix())
          .thenComparing((a, b) -> Long.compareUnsigned(a.hi(), b.hi()))
          .thenComparing((a, b) -> Long.compareUnsigned(a.lo(), b.lo()))
          .thenComparing(Entry::zone);

  private final List<Entry> entries;

  private ClientMap(List<Entry> entries) {
    this.entries = entries;
  }

  /**
   * Parses zrepl's {@code clients:} map.
   *
   * @throws IllegalArgumentException naming the first bad key and what is wrong with it or its
   *     identity
   */
  public static ClientMap parse(Map<String, String> clients) {
    var list = new ArrayList<Entry>();
    for (var e : clients.entrySet()) {
      list.add(entry(e.getKey(), e.getValue()));
    }
    list.sort(MOST_SPECIFIC_FIRST);
    for (int i = 1; i < list.size(); i++) {
      Entry a = list.get(i - 1);
      Entry b = list.get(i);
      if (MOST_SPECIFIC_FIRST.compare(a, b) == 0) {
        throw new IllegalArgumentException(
            "clients: keys '" + a.key() + "' and '" + b.key() + "' name the same addresses");
      }
    }
    return new ClientMap(List.copyOf(list));
  }

  private static Entry entry(String key, String identity) {
    String what = "clients: key '" + key + "'";
    String ip = key;
    String zone = "";
    int pct = key.indexOf('%');
    if (pct >= 0) {
      ip = key.substring(0, pct);
      zone = key.substring(pct + 1);
      if (zone.isEmpty()) {
        throw new IllegalArgumentException(what + ": empty zone after '%'");
      }
    }
    int slash = ip.indexOf('/');
    String literal = slash < 0 ? ip : ip.substring(0, slash);
    InetAddress addr = literal(literal);
    if (addr == null) {
      throw new IllegalArgumentException(what + ": not an IP address or CIDR");
    }
    byte[] bytes = to16(addr);
    if (slash < 0) {
      if (identity.indexOf('*') >= 0) {
        throw new IllegalArgumentException(
            what
                + ": an address (not a CIDR) must not have '*' in its identity '"
                + identity
                + "'");
      }
      Identities.require(what, identity);
      return Entry.of(key, bytes, 128, zone, identity);
    }
    int bits = addr instanceof Inet4Address ? 32 : 128;
    int prefix;
    try {
      prefix = Integer.parseInt(ip.substring(slash + 1));
    } catch (NumberFormatException e) {
      prefix = -1;
    }
    if (prefix < 0 || prefix > bits || !ip.substring(slash + 1).matches("[0-9]{1,3}")) {
      throw new IllegalArgumentException(what + ": bad prefix length (0.." + bits + ")");
    }
    int first = identity.indexOf('*');
    if (first < 0 || identity.indexOf('*', first + 1) >= 0) {
      throw new IllegalArgumentException(
          what
              + ": a CIDR's identity must contain exactly one '*' (replaced by the client's IP): '"
              + identity
              + "'");
    }
    // the longest expansion must be a valid identity
    String longest = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" + (zone.isEmpty() ? "" : "-" + zone);
    var problem = Identities.problem(identity.replace("*", longest));
    if (problem.isPresent()) {
      throw new IllegalArgumentException(
          what
              + ": invalid client identity '"
              + identity
              + "' once '*' is expanded: "
              + problem.get());
    }
    return Entry.of(key, bytes, prefix + (128 - bits), zone, identity);
  }

  /** An IP literal, never a DNS lookup; null if {@code s} is not one. */
  private static @Nullable InetAddress literal(String s) {
    if (s.isEmpty() || s.indexOf('%') >= 0) {
      return null;
    }
    try {
      return InetAddress.ofLiteral(s);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /** The 16-byte form: IPv4 as {@code ::ffff:a.b.c.d}. */
  static byte[] to16(InetAddress a) {
    byte[] b = a.getAddress();
    if (b.length == 16) {
      return b;
    }
    byte[] out = new byte[16];
    out[10] = (byte) 0xFF;
    out[11] = (byte) 0xFF;
    System.arraycopy(b, 0, out, 12, 4);
    return out;
  }

  /** The identity of a client, empty if no entry matches it. */
  @Override
  public Optional<String> apply(InetSocketAddress client) {
    InetAddress a = client.getAddress();
    if (a == null) {
      return Optional.empty();
    }
    return identity(a);
  }

  /** The identity of a client address, empty if no entry matches it. */
  public Optional<String> identity(InetAddress client) {
    byte[] addr = to16(client);
    long hi = ByteBuffer.wrap(addr, 0, 8).getLong();
    long lo = ByteBuffer.wrap(addr, 8, 8).getLong();
    String zone = zone(client);
    for (Entry e : entries) {
      if (e.zone().equals(zone) && e.contains(hi, lo)) {
        if (!e.wildcard()) {
          return Optional.of(e.identity());
        }
        String ip = format(addr) + (zone.isEmpty() ? "" : "-" + zone);
        String id = e.identity().replace("*", ip);
        return Identities.valid(id) ? Optional.of(id) : Optional.empty();
      }
    }
    return Optional.empty();
  }

  private static String zone(InetAddress a) {
    if (!(a instanceof Inet6Address v6)) {
      return "";
    }
    NetworkInterface nif = v6.getScopedInterface();
    if (nif != null) {
      return nif.getName();
    }
    int id = v6.getScopeId();
    if (id == 0) {
      return "";
    }
    try {
      NetworkInterface byIndex = NetworkInterface.getByIndex(id);
      return byIndex != null ? byIndex.getName() : Integer.toString(id);
    } catch (SocketException e) {
      return Integer.toString(id);
    }
  }

  /** Go's {@code net.IP.String()} of a 16-byte address (see the class comment). */
  static String format(byte[] a) {
    boolean v4mapped = true;
    for (int i = 0; i < 10; i++) {
      v4mapped &= a[i] == 0;
    }
    v4mapped &= a[10] == (byte) 0xFF && a[11] == (byte) 0xFF;
    if (v4mapped) {
      return (a[12] & 0xFF) + "." + (a[13] & 0xFF) + "." + (a[14] & 0xFF) + "." + (a[15] & 0xFF);
    }
    int[] g = new int[8];
    for (int i = 0; i < 8; i++) {
      g[i] = ((a[2 * i] & 0xFF) << 8) | (a[2 * i + 1] & 0xFF);
    }
    // the longest run of zero groups, the first one on a tie, if at least two groups long
    int bestStart = -1;
    int bestLen = 0;
    for (int i = 0; i < 8; ) {
      if (g[i] != 0) {
        i++;
        continue;
      }
      int j = i;
      while (j < 8 && g[j] == 0) {
        j++;
      }
      if (j - i > bestLen) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j;
    }
    if (bestLen < 2) {
      bestStart = -1;
    }
    var sb = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      if (i == bestStart) {
        sb.append("::");
        i += bestLen - 1;
        continue;
      }
      if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
        sb.append(':');
      }
      sb.append(Integer.toHexString(g[i]));
    }
    return sb.toString();
  }

  @Override
  public String toString() {
    var sb = new StringBuilder("ClientMap[");
    for (Entry e : entries) {
      sb.append(e.key()).append('=').append(e.identity()).append(", ");
    }
    return sb.append(']').toString();
  }
}
