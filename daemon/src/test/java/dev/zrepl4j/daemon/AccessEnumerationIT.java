package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.config.ConfigParser;
import dev.zrepl4j.replication.FuseFixture;
import dev.zrepl4j.replication.Push;
import dev.zrepl4j.replication.Replication;
import dev.zrepl4j.replication.Sender;
import dev.zrepl4j.replication.SenderOptions;
import dev.zrepl4j.rpc.ErrorCode;
import dev.zrepl4j.rpc.RemoteException;
import dev.zrepl4j.rpc.RpcClient;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Access by enumeration: every endpoint a daemon's servers register (sink, source, control), as the
 * server itself lists them ({@link RpcServer#endpoints()}), so an endpoint added later is called
 * here without a change to this test. Each is called over a real socket with bad names, built
 * generically from its request type: every String leaf of the request (record components, list
 * elements, nested records) in turn gets each bad value while every other leaf gets a plausible,
 * valid value (a real snapshot's name, guid and txg, the client's own filesystem, an existing job),
 * and the request goes out as JSON, as a remote client sends it (so a value the record's
 * constructor would refuse reaches the server). Bad values: {@code ..} and escapes to another
 * client, absolute paths, out-of-scope datasets (another pool, a filesystem outside the source's
 * filter, another client's received data), over-long names and components, malformed names (empty,
 * {@code //}, {@code @}, {@code #}, options, control characters, NUL) and JSON null; and each
 * request of the wrong JSON shape ({@code []}, a string, a number, {@code {}}).
 *
 * <p>Every such call must be refused with a request error ({@link ErrorCode#INVALID_ARGUMENT},
 * {@link ErrorCode#NOT_FOUND} or {@link ErrorCode#FAILED_PRECONDITION}, the seed's status
 * RequestError), and together they change nothing: both pools' {@code zfs list -t all} (guid,
 * createtxg, userrefs) and local/received properties are the same afterwards. Endpoints without a
 * request (listings) must not show out-of-scope names. The one exception are fields that hold a
 * pattern, not a name ({@link #NOT_NAME_FIELDS}): a bad name there may be a valid pattern, so such
 * a call may also succeed (the prune requests built here are dry runs), but never with another
 * error.
 *
 * <p>The sink has two clients with received data ({@code alice} on 127.0.0.1, {@code bob} on
 * 127.0.0.2, both pushed by the replication's own {@link Push}); the calls come from alice. The
 * daemon runs in this JVM (its servers are needed for the enumeration) and is reached over TCP and
 * its Unix control socket.
 */
@Timeout(420)
class AccessEnumerationIT extends TwoPoolsTest {
  AccessEnumerationIT() {
    super("ae");
  }

  /**
   * Fields that hold no name, where a bad name may be a valid value: a prune rule's regex (".." is
   * a regex) and grid (empty is right for a last_n rule), and the seed's {@code Roots}, which the
   * seed's server ignores and so do we (the listing stays the filter's; checked for out-of-scope
   * names). A call with a bad value there may succeed (the prune requests built here are dry runs),
   * but never with another error, and the pools must not change.
   */
  static final Set<String> NOT_NAME_FIELDS =
      Set.of("PruneRuleSpec.regex", "PruneRuleSpec.grid", "FilesystemRequest.roots");

  private static final DateTimeFormatter RFC3339 =
      DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ssXXX");

  /** Names that are bad anywhere. */
  static List<@Nullable String> malformed() {
    var l =
        new ArrayList<@Nullable String>(
            List.of(
                "",
                " ",
                "..",
                ".",
                "../..",
                "a/../..",
                "/",
                "/etc/passwd",
                "//",
                "a//b",
                "a/",
                "a@b",
                "a#b",
                "a@",
                "-o",
                "-R",
                "--",
                "a\nb",
                "a\u0000b",
                "a\tb",
                "*",
                "%",
                "\u202e",
                "x".repeat(300),
                "a/" + "b".repeat(256),
                "a/".repeat(200) + "a"));
    l.add(null);
    return l;
  }

  private String dataA() {
    return src.path("data/a").toString();
  }

  private Map<String, Object> plausible(FilesystemVersion v, String filesystem) {
    var m = new TreeMap<String, Object>();
    m.put("filesystem", filesystem);
    m.put("filesystems", List.of(filesystem));
    m.put("type", "snapshot");
    m.put("name", v.name());
    m.put("guid", new BigInteger(Long.toUnsignedString(v.guid())));
    m.put("createTxg", new BigInteger(Long.toUnsignedString(v.createTxg())));
    m.put("createTXG", new BigInteger(Long.toUnsignedString(v.createTxg())));
    m.put("Version.creation", RFC3339.format(v.creation().atZone(ZoneId.systemDefault())));
    m.put("creation", v.creation().toString());
    m.put("resumeToken", "");
    m.put("dryRun", true);
    m.put("count", 1);
    m.put("PruneRuleSpec.type", "last_n");
    m.put("regex", "");
    m.put("grid", "");
    m.put("job", "sink");
    m.put("signal", "wakeup");
    m.put("protection", "GUARANTEE_NOTHING");
    return m;
  }

  @Test
  void everyEndpointRefusesBadNamesAndNothingChanges() throws Exception {
    int sinkPort = freePort();
    int sourcePort = freePort();
    FuseFixture.run("zfs", "snapshot", "-r", src.path("data") + "@s1");
    FuseFixture.run("zfs", "snapshot", src.path("other") + "@o1");
    var yaml =
        global("ae")
            + """
            jobs:
              - name: sink
                type: sink
                root_fs: %s
                serve: {type: tcp, listen: "127.0.0.1:%d", clients: {"127.0.0.1": alice, "127.0.0.2": bob}}
              - name: source
                type: source
                serve: {type: tcp, listen: "127.0.0.1:%d", clients: {"127.0.0.1": puller}}
                filesystems: {"%s<": true}
                snapshotting: {type: manual}
            """
                .formatted(dst.path("sink"), sinkPort, sourcePort, src.path("data"));
    var cfg = ConfigParser.parse(yaml, dir.resolve("ae.yml"));
    var zfs = FuseFixture.zfs();
    try (var daemon = Daemon.start(cfg, zfs, Clock.systemUTC(), "test")) {
      // two clients' data on the sink, received the way a push does it
      for (var client : List.of("alice", "bob")) {
        var from = client.equals("alice") ? "127.0.0.1" : "127.0.0.2";
        var filter = (java.util.function.Predicate<DatasetPath>) p -> p.hasPrefix(src.path("data"));
        try (var push =
            new Push(
                new Sender(zfs, filter, client, SenderOptions.PLAIN),
                client,
                Loopback.dialer(from, sinkPort, RpcOptions.defaults()))) {
          var r = push.run(Replication.Config.defaults(client), Replication.Progress.none());
          assertThat(r.ok()).as("%s", r).isTrue();
        }
      }
      var bobData = dst.path("sink") + "/bob/" + dataA();
      assertThat(dst.exists(DatasetPath.parse(bobData))).isTrue();
      var s1 =
          zfs.listVersions(List.of(src.path("data/a"))).get(src.path("data/a")).stream()
              .filter(FilesystemVersion::isSnapshot)
              .findFirst()
              .orElseThrow();

      var before = state();
      assertThat(before.values())
          .as("the state holds the snapshots' userrefs")
          .anyMatch(k -> k.contains("/bob/") && k.contains("@s1\tuserrefs\t1"));
      var refused = new TreeMap<String, Integer>();
      var problems = new ArrayList<String>();

      // -- the sink, as alice: bad names, escapes to bob, out-of-scope datasets
      var sinkBad = new ArrayList<>(malformed());
      // valid components of the client's own namespace (ZFS allows ' ' and '-' in names; below
      // root_fs/alice they are never an argument of their own): an empty listing is right
      sinkBad.removeIf(v -> v != null && List.of(" ", "-o", "-R", "--").contains(v));
      sinkBad.addAll(
          List.of(
              "../bob/" + dataA(),
              "../../sink/bob/" + dataA(),
              "a/../../bob/" + dataA(),
              "/" + bobData,
              "/" + dst.path("sink")));
      var sinkServer = daemon.jobServers().get("sink");
      assertThat(sinkServer).isNotNull();
      enumerate(
          "sink",
          sinkServer,
          () -> Loopback.client("127.0.0.1", sinkPort, RpcOptions.defaults()),
          plausible(s1, dataA()),
          sinkBad,
          List.of("bob", dst.path("sink").toString() + "/bob"),
          refused,
          problems);

      // -- the source, as its puller: the same, and what its filter leaves out
      var sourceBad = new ArrayList<>(malformed());
      sourceBad.addAll(
          List.of(
              src.path("other").toString(),
              src.root().toString(),
              src.path("data") + "/../other",
              src.path("nope").toString(),
              bobData,
              dst.path("sink").toString(),
              dst.root().toString()));
      var sourceServer = daemon.jobServers().get("source");
      assertThat(sourceServer).isNotNull();
      enumerate(
          "source",
          sourceServer,
          () -> Loopback.client("127.0.0.1", sourcePort, RpcOptions.defaults()),
          plausible(s1, dataA()),
          sourceBad,
          List.of(src.path("other").toString(), dst.root().toString()),
          refused,
          problems);

      // -- the control socket: root's, on this machine only; bad job names are refused cleanly
      var control = sock("ae");
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(control)))
          .isEqualTo("rw-------");
      var runDir = control.getParent();
      assertThat(runDir).isNotNull();
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(runDir)))
          .isEqualTo("rwx------");
      var controlBad = new ArrayList<>(malformed());
      controlBad.remove(""); // the empty job means every job (status, version)
      controlBad.addAll(List.of("nosuchjob", "Sink", "sink ", " sink", "sink/..", "source2"));
      enumerate(
          "control",
          daemon.controlServer(),
          () -> RpcClient.unix(control, RpcOptions.defaults()),
          plausible(s1, dataA()),
          controlBad,
          List.of(),
          refused,
          problems);

      System.out.println("access.calls.refused " + refused);
      assertThat(problems).as("bad calls not refused with a request error").isEmpty();
      var after = state();
      assertThat(difference(before, after)).as("the pools after the bad calls").isEmpty();
      // every kind of server was enumerated, with its endpoints
      assertThat(refused.keySet())
          .anyMatch(k -> k.startsWith("sink receiver."))
          .anyMatch(k -> k.startsWith("source sender."))
          .anyMatch(k -> k.startsWith("source FilesystemVersionsRequest"))
          .anyMatch(k -> k.startsWith("control control."));
    }
  }

  interface ClientFactory {
    RpcClient open() throws IOException;
  }

  /**
   * Calls every endpoint of {@code server} with every bad value in every String leaf of its
   * request; endpoints without a request are called once and must not show {@code outOfScope}.
   */
  private void enumerate(
      String kind,
      RpcServer server,
      ClientFactory clients,
      Map<String, Object> plausible,
      List<@Nullable String> bad,
      List<String> outOfScope,
      Map<String, Integer> refused,
      List<String> problems)
      throws IOException {
    var endpoints = server.endpoints();
    assertThat(endpoints).as("%s endpoints", kind).isNotEmpty();
    var client = clients.open();
    try {
      for (var ep : endpoints) {
        var type = ep.request();
        Type response = ep.octetResponse() ? InputStream.class : Object.class;
        if (type == null || leaves(type, "", null).isEmpty()) {
          // a listing: whatever it shows is the caller's
          Object req = type == null ? null : build(type, "", null, plausible, "", null);
          var got = call(client, ep, req, response);
          if (got.error() != null) {
            problems.add(kind + " " + ep.name() + " without bad input failed: " + got.error());
          } else {
            for (var name : outOfScope) {
              if (String.valueOf(got.value()).contains(name)) {
                problems.add(kind + " " + ep.name() + " shows out-of-scope " + name);
              }
            }
          }
          refused.merge(kind + " " + ep.name() + " (listing)", 0, Integer::sum);
          continue;
        }
        // requests of the wrong JSON shape; {} leaves every field out (null)
        boolean onlyNotNames =
            leaves(type, "", null).stream().allMatch(l -> NOT_NAME_FIELDS.contains(l.field()));
        for (Object shape : List.<Object>of(List.of(), "x", 42, Map.of(), List.of(Map.of()))) {
          if (!client.isOpen()) {
            client.close();
            client = clients.open();
          }
          var got = call(client, ep, shape, response);
          if (got.error() instanceof RemoteException r && isRequestError(r.code())) {
            refused.merge(kind + " " + ep.name(), 1, Integer::sum);
          } else if (got.error() == null && onlyNotNames) {
            refused.merge(kind + " " + ep.name() + " (not a name, accepted)", 1, Integer::sum);
          } else {
            problems.add(
                kind
                    + " "
                    + ep.name()
                    + " JSON "
                    + shape
                    + " -> "
                    + (got.error() == null ? "accepted: " + got.value() : "" + got.error()));
          }
        }
        for (var leaf : leaves(type, "", null)) {
          for (var value : bad) {
            if (!client.isOpen()) {
              client.close();
              client = clients.open();
            }
            var req = build(type, "", null, plausible, leaf.path(), value);
            var got = call(client, ep, req, response);
            var what = kind + " " + ep.name() + " " + leaf.path() + "=" + printable(value) + " -> ";
            if (got.error() instanceof RemoteException r && isRequestError(r.code())) {
              refused.merge(kind + " " + ep.name(), 1, Integer::sum);
            } else if (got.error() == null && NOT_NAME_FIELDS.contains(leaf.field())) {
              for (var name : outOfScope) {
                if (String.valueOf(got.value()).contains(name)) {
                  problems.add(what + "shows out-of-scope " + name);
                }
              }
              refused.merge(kind + " " + ep.name() + " (not a name, accepted)", 1, Integer::sum);
            } else {
              problems.add(
                  what + (got.error() == null ? "accepted: " + got.value() : "" + got.error()));
            }
          }
        }
      }
    } finally {
      client.close();
    }
  }

  static boolean isRequestError(ErrorCode c) {
    return c == ErrorCode.INVALID_ARGUMENT
        || c == ErrorCode.NOT_FOUND
        || c == ErrorCode.FAILED_PRECONDITION;
  }

  record Outcome(@Nullable Object value, @Nullable Throwable error) {}

  private static Outcome call(
      RpcClient client, RpcServer.EndpointInfo ep, @Nullable Object req, Type response) {
    try {
      InputStream body = ep.requestBody() ? new ByteArrayInputStream(new byte[64 * 1024]) : null;
      Object v = client.call(ep.name(), req, body, response);
      if (v instanceof InputStream in) {
        try (in) {
          return new Outcome("stream of " + in.readAllBytes().length + " bytes", null);
        }
      }
      return new Outcome(v, null);
    } catch (IOException | RuntimeException e) {
      return new Outcome(null, e);
    }
  }

  static String printable(@Nullable String s) {
    if (s == null) {
      return "null";
    }
    var e = s.replace("\n", "\\n").replace("\t", "\\t").replace("\u0000", "\\0");
    return e.length() > 40 ? e.substring(0, 20) + "…(" + e.length() + ")" : "'" + e + "'";
  }

  /**
   * A String leaf of a request type.
   *
   * @param path where it is ({@code to.name}, {@code filesystems[]})
   * @param field {@code Record.component} of the leaf (or of the list holding it)
   */
  record Leaf(String path, String field) {}

  /** The String leaves of {@code t}. */
  static List<Leaf> leaves(Type t, String path, @Nullable String field) {
    var out = new ArrayList<Leaf>();
    Class<?> raw = raw(t);
    if (raw == String.class) {
      out.add(new Leaf(path, field == null ? path : field));
    } else if (Collection.class.isAssignableFrom(raw)) {
      out.addAll(leaves(element(t), path + "[]", field));
    } else if (raw.isRecord()) {
      for (RecordComponent c : raw.getRecordComponents()) {
        out.addAll(
            leaves(
                c.getGenericType(),
                path.isEmpty() ? c.getName() : path + "." + c.getName(),
                raw.getSimpleName() + "." + c.getName()));
      }
    }
    return out;
  }

  private static final Object NULL = new Object();

  /**
   * The JSON form of a plausible {@code t} (maps, lists, strings, numbers) with {@code value} at
   * {@code badPath}.
   */
  static @Nullable Object build(
      Type t,
      String path,
      @Nullable String field,
      Map<String, Object> plausible,
      String badPath,
      @Nullable String value) {
    Class<?> raw = raw(t);
    if (raw == String.class) {
      if (path.equals(badPath)) {
        return value;
      }
      return String.valueOf(lookup(plausible, field, "x"));
    }
    if (Collection.class.isAssignableFrom(raw)) {
      if (field != null && badPath.startsWith(path + "[]")) {
        return Arrays.asList(build(element(t), path + "[]", field, plausible, badPath, value));
      }
      var p = field == null ? null : lookup(plausible, field, NULL);
      if (p instanceof List<?> l && raw(element(t)) == String.class) {
        return l;
      }
      if (p instanceof String s && raw(element(t)) == String.class) {
        return DatasetPath.parse(s).components(); // the seed's names are lists of components
      }
      return List.of(build(element(t), path + "[]", field, plausible, badPath, value));
    }
    if (raw.isRecord()) {
      var m = new LinkedHashMap<String, @Nullable Object>();
      for (RecordComponent c : raw.getRecordComponents()) {
        m.put(
            c.getName(),
            build(
                c.getGenericType(),
                path.isEmpty() ? c.getName() : path + "." + c.getName(),
                raw.getSimpleName() + "." + c.getName(),
                plausible,
                badPath,
                value));
      }
      return m;
    }
    if (raw.isEnum()) {
      var p = lookup(plausible, field, NULL);
      return p != NULL ? p : raw.getEnumConstants()[0].toString();
    }
    var p = lookup(plausible, field, NULL);
    if (p != NULL) {
      return p instanceof BigInteger b && (raw == int.class || raw == Integer.class)
          ? b.intValue()
          : p;
    }
    if (raw == boolean.class || raw == Boolean.class) {
      return false;
    }
    if (raw.isPrimitive() || Number.class.isAssignableFrom(raw)) {
      return 0;
    }
    if (raw == java.time.Instant.class) {
      return java.time.Instant.EPOCH.toString();
    }
    throw new AssertionError("no plausible value for " + t + " at " + path);
  }

  /** {@code Record.component} first, then {@code component}. */
  private static Object lookup(Map<String, Object> plausible, @Nullable String field, Object dflt) {
    if (field == null) {
      return dflt;
    }
    var v = plausible.get(field);
    if (v != null) {
      return v;
    }
    int dot = field.lastIndexOf('.');
    return plausible.getOrDefault(field.substring(dot + 1), dflt);
  }

  private static Class<?> raw(Type t) {
    if (t instanceof Class<?> c) {
      return c;
    }
    if (t instanceof ParameterizedType p) {
      return (Class<?>) p.getRawType();
    }
    throw new AssertionError("unsupported request type " + t);
  }

  private static Type element(Type t) {
    if (t instanceof ParameterizedType p) {
      return p.getActualTypeArguments()[0];
    }
    throw new AssertionError("raw collection type " + t);
  }

  /**
   * Both pools as ZFS sees them: every dataset, snapshot and bookmark with guid, createtxg and
   * userrefs, and every local property (zfs-fuse has no "received" source).
   */
  private Map<String, String> state() throws IOException {
    var out = new TreeMap<String, String>();
    for (var pool : List.of(src.name, dst.name)) {
      put(out, FuseFixture.run("zfs", "list", "-H", "-t", "all", "-r", "-o", "name", pool), l -> l);
      // zfs-fuse's list has no -p: the exact numbers come from get
      put(
          out,
          FuseFixture.run(
              "zfs",
              "get",
              "-H",
              "-p",
              "-r",
              "-o",
              "name,property,value",
              "guid,createtxg,userrefs",
              pool),
          AccessEnumerationIT::nameAndProperty);
      put(
          out,
          FuseFixture.run(
              "zfs",
              "get",
              "-H",
              "-p",
              "-r",
              "-s",
              "local",
              "-o",
              "name,property,value,source",
              "all",
              pool),
          AccessEnumerationIT::nameAndProperty);
    }
    return out;
  }

  /** What changed from {@code before} to {@code after}, a line per dataset or property. */
  static List<String> difference(Map<String, String> before, Map<String, String> after) {
    var out = new ArrayList<String>();
    for (var e : before.entrySet()) {
      var now = after.get(e.getKey());
      if (now == null) {
        out.add("gone: " + e.getValue());
      } else if (!now.equals(e.getValue())) {
        out.add("changed: " + e.getValue() + " -> " + now);
      }
    }
    for (var e : after.entrySet()) {
      if (!before.containsKey(e.getKey())) {
        out.add("new: " + e.getValue());
      }
    }
    return out;
  }

  private static String nameAndProperty(String getLine) {
    var f = getLine.split("\t", -1);
    return f.length < 2 ? getLine : f[0] + "\t" + f[1];
  }

  private static void put(Map<String, String> out, String text, Function<String, String> key) {
    for (var l : text.split("\n")) {
      if (!l.isBlank()) {
        out.put(key.apply(l), l);
      }
    }
  }
}
