package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Every test runs with a whole stream and with a one-byte-at-a-time stream. */
class ZfsOutputTest {

  private static InputStream stream(String s, boolean oneByte) {
    InputStream in = new ByteArrayInputStream(s.getBytes(StandardCharsets.UTF_8));
    return oneByte ? new OneByteInputStream(in) : in;
  }

  private static InputStream resource(String name, boolean oneByte) {
    InputStream in = Objects.requireNonNull(ZfsOutputTest.class.getResourceAsStream(name), name);
    return oneByte ? new OneByteInputStream(in) : in;
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void parsesRecordedOpenZfsVersionListing(boolean oneByte) throws IOException {
    var m = ZfsOutput.parseVersionList(resource("openzfs-list-versions.txt", oneByte));
    assertThat(m.keySet())
        .containsExactly(DatasetPath.of("tank", "my data"), DatasetPath.of("tank", "ünïcode"));
    var myData = m.get(DatasetPath.of("tank", "my data"));
    assertThat(myData).hasSize(3);
    assertThat(myData.get(0).guidString()).isEqualTo("18446744073709551615");
    assertThat(myData.get(0).type()).isEqualTo(VersionType.SNAPSHOT);
    assertThat(myData.get(0).creation()).isEqualTo(Instant.ofEpochSecond(1704067200));
    assertThat(myData.get(1).type()).isEqualTo(VersionType.BOOKMARK);
    assertThat(myData.get(1).userRefs()).isEqualTo(FilesystemVersion.UNKNOWN_USERREFS);
    assertThat(myData.get(2).name()).isEqualTo("snap with space");
    assertThat(myData.get(2).guidString()).isEqualTo("12345678901234567890");
    assertThat(myData.get(2).userRefs()).isEqualTo(2);
    var uni = m.get(DatasetPath.of("tank", "ünïcode"));
    assertThat(uni.get(0).name()).isEqualTo("ü-snap");
    assertThat(uni.get(1).guidString()).isEqualTo("9223372036854775808");
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void parsesRecordedZfsFuseGetListingIntoVersionsOrderedByTxg(boolean oneByte) throws IOException {
    var rows = ZfsOutput.parseProperties(resource("fuse-get-versions.txt", oneByte));
    assertThat(rows).hasSize(20);
    var m = ZfsOutput.versionsFromProperties(rows);
    assertThat(m.keySet())
        .containsExactly(DatasetPath.of("tank", "a b"), DatasetPath.of("tank", "c"));
    var c = m.get(DatasetPath.of("tank", "c"));
    assertThat(c).extracting(FilesystemVersion::name).containsExactly("s1", "s2");
    assertThat(c.get(0).userRefs()).isEqualTo(1);
    assertThat(c.get(1).guidString()).isEqualTo("17089556158460128621");
    assertThat(m.get(DatasetPath.of("tank", "a b")).getFirst().name()).isEqualTo("x y");
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void keepsTabsInsidePropertyValues(boolean oneByte) throws IOException {
    var rows = ZfsOutput.parseProperties(resource("get-properties.txt", oneByte));
    assertThat(rows.get(0))
        .isEqualTo(new ZfsOutput.PropertyRow("tank/c", "zrepl:x", "a\tb", "local"));
    assertThat(rows.get(2).value()).isEqualTo("ünï\tcode ☃");
    assertThat(rows.get(2).source()).isEqualTo("inherited from tank");
    assertThat(rows.get(3).value()).isEqualTo("-");
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void rejectsTruncatedLastLine(boolean oneByte) {
    var s = "tank@a\t1\t2\t3\t0\ntank@b\t1\t2";
    assertThatThrownBy(() -> ZfsOutput.parseVersionList(stream(s, oneByte)))
        .isInstanceOf(ZfsParseException.class)
        .hasMessageContaining("line 2")
        .hasMessageContaining("tank@b");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "tank@b\t1\t2\t3\n", // too few fields
        "tank@b\tx1\t2\t3\t0\n", // guid not a number
        "tank@b\t18446744073709551616\t2\t3\t0\n", // guid > 2^64-1
        "tank@b\t-1\t2\t3\t0\n", // negative
        "tank@b\t1\t2\t3\t0\textra\n", // extra column
        "tank\t1\t2\t3\t0\n", // not a version
        "tank@b@c\t1\t2\t3\t0\n", // two delimiters
        "\n", // empty line
        "tank@b\t1\t2\tWed Nov 25 19:14 2026\t0\n", // creation without -p
        "tank@b\t1\t2\t3\t-\n", // snapshot without userrefs
      })
  void rejectsGarbledVersionLinesNamingTheLine(String bad) {
    var s = "tank@a\t1\t2\t3\t0\n" + bad;
    for (boolean oneByte : new boolean[] {false, true}) {
      assertThatThrownBy(() -> ZfsOutput.parseVersionList(stream(s, oneByte)))
          .as(bad)
          .isInstanceOf(ZfsParseException.class)
          .hasMessageContaining("line 2");
    }
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "tank/c\tguid\n", // too few fields
        "tank/c\n", // name only
        "\tguid\t1\t-\n", // empty name
      })
  void rejectsGarbledPropertyLines(String bad) {
    assertThatThrownBy(() -> ZfsOutput.parseProperties(stream(bad, true)))
        .isInstanceOf(ZfsParseException.class)
        .hasMessageContaining("line 1");
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void rejectsInvalidUtf8(boolean oneByte) {
    var bytes = new byte[] {'t', 'a', (byte) 0xff, '@', 'a', '\n'};
    InputStream in = new ByteArrayInputStream(bytes);
    var s = oneByte ? new OneByteInputStream(in) : in;
    assertThatThrownBy(() -> ZfsOutput.parseNames(s))
        .isInstanceOf(ZfsParseException.class)
        .hasMessageContaining("line 1")
        .hasMessageContaining("UTF-8");
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void fuseListingWithAMissingPropertyFails(boolean oneByte) throws IOException {
    var rows =
        ZfsOutput.parseProperties(
            stream(
                "tank@a\tguid\t1\t-\ntank@a\tcreatetxg\t2\t-\ntank@a\tcreation\t3\t-\n", oneByte));
    assertThatThrownBy(() -> ZfsOutput.versionsFromProperties(rows))
        .isInstanceOf(ZfsParseException.class)
        .hasMessageContaining("tank@a")
        .hasMessageContaining("missing");
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void parsesNamesWithSpacesAndUnicode(boolean oneByte) throws IOException {
    assertThat(ZfsOutput.parseNames(stream("tank\ntank/a b\ntank/ü/☃\n", oneByte)))
        .containsExactly(
            DatasetPath.of("tank"),
            DatasetPath.of("tank", "a b"),
            DatasetPath.of("tank", "ü", "☃"));
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void parsesHoldsWithTabsInTags(boolean oneByte) throws IOException {
    var holds =
        ZfsOutput.parseHolds(
            stream("tank/a@s1\tzrepl\t1704067200\ntank/a@s1\tmy\ttag\t5\n", oneByte));
    assertThat(holds).hasSize(2);
    assertThat(holds.get(0).tag()).isEqualTo("zrepl");
    assertThat(holds.get(1).tag()).isEqualTo("my\ttag");
    assertThat(holds.get(1).created()).isEqualTo(Instant.ofEpochSecond(5));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "full\ttank/a@s1\t1234\nsize\t1234\n",
        "incremental\ts1\ttank/a@s2\t1234\nsize\t1234\n",
        "resume token contents:\nnvlist version: 0\n\tobject = 0x6\nfull\ttank/a@s1\t1234\nsize\t1234\n"
      })
  void parsesSendSizeEstimate(String out) throws IOException {
    assertThat(ZfsOutput.parseSendSize(out)).isEqualTo(1234);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "full\ttank/a@s1\t1234\n", "size\tlots\n"})
  void rejectsSendEstimateWithoutSize(String out) {
    assertThatThrownBy(() -> ZfsOutput.parseSendSize(out)).isInstanceOf(ZfsParseException.class);
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void rejectsLinesLongerThanTheLimitInsteadOfCuttingThem(boolean oneByte) {
    var s = "tank/" + "x".repeat(LineReader.MAX_LINE_BYTES) + "\n";
    assertThatThrownBy(() -> ZfsOutput.parseNames(stream(s, oneByte)))
        .isInstanceOf(ZfsParseException.class)
        .hasMessageContaining("longer than");
  }

  @org.junit.jupiter.api.Test
  void splitLocatesTheFreeColumnFromBothEnds() throws ZfsParseException {
    assertThat(ZfsOutput.split("a\tb\tc\td\te", 1, 2, 1)).containsExactly("a", "b", "c\td", "e");
    assertThat(ZfsOutput.split("a\tb\t\td", 1, 2, 1)).containsExactly("a", "b", "", "d");
    assertThat(List.of(Map.of())).hasSize(1);
  }
}
