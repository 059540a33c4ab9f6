package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Print/parse round-trips of {@code zfs list -H -p} and {@code zfs get -H -p} output. */
class ZfsOutputRoundTripTest {

  @Provide
  Arbitrary<List<FilesystemVersion>> versions() {
    var component =
        Arbitraries.strings().withChars("abcXYZ019_-.: üé☃").ofMinLength(1).ofMaxLength(8);
    var fs = component.list().ofMinSize(1).ofMaxSize(3).map(DatasetPath::new);
    var version =
        Combinators.combine(
                fs,
                Arbitraries.of(VersionType.class),
                component,
                Arbitraries.longs(),
                Arbitraries.longs(),
                Arbitraries.longs().between(0, 4_000_000_000L),
                Arbitraries.longs().between(0, 1000))
            .as(
                (f, t, n, guid, txg, cr, refs) ->
                    new FilesystemVersion(
                        f,
                        t,
                        n,
                        guid,
                        txg,
                        Instant.ofEpochSecond(cr),
                        t == VersionType.BOOKMARK ? FilesystemVersion.UNKNOWN_USERREFS : refs));
    return version.list().ofMaxSize(30);
  }

  private static String render(FilesystemVersion v) {
    return String.join(
            "\t",
            v.fullName(),
            Long.toUnsignedString(v.guid()),
            Long.toUnsignedString(v.createTxg()),
            Long.toString(v.creation().getEpochSecond()),
            v.userRefs() < 0 ? "-" : Long.toString(v.userRefs()))
        + "\n";
  }

  private static InputStream in(String s, boolean oneByte) {
    InputStream in = new ByteArrayInputStream(s.getBytes(StandardCharsets.UTF_8));
    return oneByte ? new OneByteInputStream(in) : in;
  }

  /** What the parser promises: grouped by filesystem, each group stably sorted by txg. */
  private static List<FilesystemVersion> expected(List<FilesystemVersion> vs) {
    var byFs =
        vs.stream()
            .collect(
                Collectors.groupingBy(
                    FilesystemVersion::filesystem,
                    java.util.LinkedHashMap::new,
                    Collectors.toCollection(ArrayList::new)));
    var out = new ArrayList<FilesystemVersion>();
    for (var l : byFs.values()) {
      l.sort(Comparator.comparing(FilesystemVersion::createTxg, Long::compareUnsigned));
      out.addAll(l);
    }
    return out;
  }

  @Property(tries = 300)
  void listOutputRoundTrips(@ForAll("versions") List<FilesystemVersion> vs, @ForAll boolean oneByte)
      throws IOException {
    var text = vs.stream().map(ZfsOutputRoundTripTest::render).collect(Collectors.joining());
    var parsed = ZfsOutput.parseVersionList(in(text, oneByte));
    assertThat(parsed.values().stream().flatMap(List::stream).toList()).isEqualTo(expected(vs));
  }

  @Property(tries = 200)
  void getOutputRoundTripsValuesWithTabs(@ForAll("values") String value, @ForAll boolean oneByte)
      throws IOException {
    var line = "tank/a b\tzrepl:x\t" + value + "\tlocal\n";
    var rows = ZfsOutput.parseProperties(in(line, oneByte));
    assertThat(rows)
        .containsExactly(new ZfsOutput.PropertyRow("tank/a b", "zrepl:x", value, "local"));
  }

  @Provide
  Arbitrary<String> values() {
    return Arbitraries.strings().withChars("ab \tü☃-=,@#").ofMaxLength(20);
  }
}
