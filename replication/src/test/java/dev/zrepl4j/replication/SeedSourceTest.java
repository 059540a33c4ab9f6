package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The seed endpoints' JSON, byte for byte against SEED-SPEC.md §1.9 / seed-wire-captures.txt, over
 * a real RpcServer on loopback TCP talked to by a raw socket playing a seed client.
 */
class SeedSourceTest {
  static final DatasetPath HOME = DatasetPath.of("tank", "usr", "home");
  static final DatasetPath SECRET = DatasetPath.of("tank", "secret");
  static final Instant NOON = Instant.parse("2017-08-19T12:00:00Z");

  final FakeZfs zfs = new FakeZfs();
  RpcServer server = new RpcServer(RpcOptions.defaults());

  @AfterEach
  void close() {
    server.close();
  }

  /** A seed client's exchange: returns {status byte of the header, response JSON}. */
  record Response(String header, String body) {}

  Response call(ZoneId zone, String endpoint, String requestJson) throws Exception {
    zfs.versions.put(
        HOME,
        List.of(
            new FilesystemVersion(
                HOME,
                VersionType.SNAPSHOT,
                "zrepl_20170819_120000_000",
                1234567890123L,
                4711,
                NOON,
                -1),
            new FilesystemVersion(
                HOME,
                VersionType.BOOKMARK,
                "zrepl_20170819_120000_000",
                1234567890123L,
                4711,
                NOON,
                -1)));
    zfs.versions.put(
        SECRET,
        List.of(new FilesystemVersion(SECRET, VersionType.SNAPSHOT, "s", -1L, -2L, NOON, -1)));
    server.register(new SeedSource(zfs, p -> p.equals(HOME), zone));
    try (var l = server.listenTcp(new InetSocketAddress("127.0.0.1", 0), a -> Optional.of("seed"));
        var s = new Socket("127.0.0.1", l.port())) {
      var out = s.getOutputStream();
      var hdr =
          "{\"Endpoint\":\""
              + endpoint
              + "\",\"DataType\":2,\"Accept\":"
              + (endpoint.endsWith("TransferRequest") ? 3 : 2)
              + ",\"Error\":0,\"ErrorMessage\":\"\"}\n";
      frame(out, 0x01, hdr.getBytes(StandardCharsets.UTF_8));
      frame(out, 0x02, (requestJson + "\n").getBytes(StandardCharsets.UTF_8));
      out.flush();
      var in = new DataInputStream(s.getInputStream());
      var header = message(in, 0x01);
      var body = header.contains("\"Error\":1,") ? message(in, 0x02) : "";
      frame(out, 0xff, new byte[0]); // the seed's close
      return new Response(header, body);
    }
  }

  static void frame(OutputStream out, int type, byte[] payload) throws IOException {
    int n = payload.length;
    out.write(
        new byte[] {(byte) type, 1, (byte) n, (byte) (n >> 8), (byte) (n >> 16), (byte) (n >> 24)});
    out.write(payload);
  }

  static String message(DataInputStream in, int type) throws IOException {
    var buf = new ByteArrayOutputStream();
    while (true) {
      int t = in.readUnsignedByte();
      int fin = in.readUnsignedByte();
      int n = Integer.reverseBytes(in.readInt());
      assertThat(t).isEqualTo(type);
      buf.write(in.readNBytes(n));
      if (fin == 1) {
        return buf.toString(StandardCharsets.UTF_8);
      }
    }
  }

  @Test
  void filesystemRequestAnswersTheSeedsArrayOfPathArraysFilteredByTheAcl() throws Exception {
    var r = call(ZoneOffset.UTC, "FilesystemRequest", "{\"Roots\":null}");
    assertThat(r.header())
        .isEqualTo(
            "{\"Endpoint\":\"\",\"DataType\":2,\"Accept\":0,\"Error\":1,\"ErrorMessage\":\"\"}\n");
    assertThat(r.body()).isEqualTo("[[\"tank\",\"usr\",\"home\"]]\n");
  }

  /**
   * The seed declares {@code Roots []string} ("may be nil = all") and its handler ignores it: a
   * seed client's non-empty Roots is accepted, and the answer is still only what the ACL allows,
   * whatever the roots name.
   */
  @Test
  void filesystemRequestAcceptsTheSeedsNonEmptyRootsAndStillAnswersOnlyWhatTheAclAllows()
      throws Exception {
    var r =
        call(
            ZoneOffset.UTC,
            "FilesystemRequest",
            "{\"Roots\":[\"tank/secret\",\"tank\",\"tank/usr/home\"]}");
    assertThat(r.header())
        .isEqualTo(
            "{\"Endpoint\":\"\",\"DataType\":2,\"Accept\":0,\"Error\":1,\"ErrorMessage\":\"\"}\n");
    assertThat(r.body()).isEqualTo("[[\"tank\",\"usr\",\"home\"]]\n");
  }

  @Test
  void filesystemVersionsRequestAnswersTheCapturedJsonExactly() throws Exception {
    var r =
        call(
            ZoneOffset.UTC,
            "FilesystemVersionsRequest",
            "{\"Filesystem\":[\"tank\",\"usr\",\"home\"]}");
    assertThat(r.body())
        .isEqualTo(
            "[{\"Type\":\"snapshot\",\"Name\":\"zrepl_20170819_120000_000\",\"Guid\":1234567890123,"
                + "\"CreateTXG\":4711,\"Creation\":\"2017-08-19T12:00:00Z\"},"
                + "{\"Type\":\"bookmark\",\"Name\":\"zrepl_20170819_120000_000\",\"Guid\":1234567890123,"
                + "\"CreateTXG\":4711,\"Creation\":\"2017-08-19T12:00:00Z\"}]\n");
  }

  @Test
  void creationCarriesTheSendersUtcOffset() throws Exception {
    var r =
        call(
            ZoneId.of("Europe/Berlin"),
            "FilesystemVersionsRequest",
            "{\"Filesystem\":[\"tank\",\"usr\",\"home\"]}");
    assertThat(r.body()).contains("\"Creation\":\"2017-08-19T14:00:00+02:00\"");
  }

  @Test
  void guidsAndTxgsAreUnsigned64BitNumbers() {
    var v =
        new SeedSource(zfs, p -> true, ZoneOffset.UTC)
            .version(new FilesystemVersion(SECRET, VersionType.SNAPSHOT, "s", -1L, -2L, NOON, -1));
    assertThat(v.guid().toString()).isEqualTo("18446744073709551615");
    assertThat(v.createTXG().toString()).isEqualTo("18446744073709551614");
  }

  @Test
  void filesystemVersionsRequestEnforcesTheAclUnlikeTheSeed() throws Exception {
    var r =
        call(ZoneOffset.UTC, "FilesystemVersionsRequest", "{\"Filesystem\":[\"tank\",\"secret\"]}");
    assertThat(r.header())
        .doesNotContain("\"Error\":1,")
        .contains("ACL prohibits access to tank/secret");
    assertThat(zfs.calls).noneMatch(c -> c.contains("secret"));
  }

  @Test
  void transfersOutsideTheAclAreRefusedBeforeAnyZfsCommand() throws Exception {
    var version =
        "{\"Type\":\"snapshot\",\"Name\":\"s\",\"Guid\":18446744073709551615,"
            + "\"CreateTXG\":4711,\"Creation\":\"2017-08-19T12:00:00Z\"}";
    var initial =
        call(
            ZoneOffset.UTC,
            "InitialTransferRequest",
            "{\"Filesystem\":[\"tank\",\"secret\"],\"FilesystemVersion\":" + version + "}");
    assertThat(initial.header()).contains("ACL prohibits access to tank/secret");
    server.close();
    server = new RpcServer(RpcOptions.defaults());
    var incremental =
        call(
            ZoneOffset.UTC,
            "IncrementalTransferRequest",
            "{\"Filesystem\":[\"tank\",\"secret\"],\"From\":"
                + version
                + ",\"To\":"
                + version
                + "}");
    assertThat(incremental.header()).contains("ACL prohibits access to tank/secret");
    assertThat(zfs.calls).noneMatch(c -> c.contains("secret"));
  }
}
