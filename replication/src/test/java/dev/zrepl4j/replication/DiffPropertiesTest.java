package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Diff agrees with a literal transcription of the seed's quadratic search. */
class DiffPropertiesTest {

  @Provide
  Arbitrary<List<FsVersion>> lists() {
    // each entry: a guid out of a few (so sides share some), snapshot or bookmark
    return Arbitraries.integers()
        .between(0, 11)
        .list()
        .ofMaxSize(10)
        .map(
            codes -> {
              var out = new ArrayList<FsVersion>();
              long txg = 1;
              for (int c : codes) {
                long guid = c / 2;
                var type = c % 2 == 0 ? FsVersion.SNAPSHOT : FsVersion.BOOKMARK;
                out.add(new FsVersion(type, "v" + out.size(), guid, txg++, Instant.EPOCH));
              }
              return out;
            });
  }

  @Property(tries = 1000)
  void agreesWithTheSeedsSearch(
      @ForAll("lists") List<FsVersion> left, @ForAll("lists") List<FsVersion> right) {
    int ml = -1;
    int mr = -1;
    search:
    for (int l = left.size() - 1; l >= 0; l--) {
      for (int r = right.size() - 1; r >= 0; r--) {
        if (left.get(l).guid() == right.get(r).guid()) {
          ml = l;
          mr = r;
          if (r > 0
              && right.get(r - 1).guid() == right.get(r).guid()
              && right.get(r - 1).isSnapshot()) {
            mr = r - 1;
          }
          break search;
        }
      }
    }
    var d = Diff.of(left, right);
    if (ml < 0) {
      assertThat(d.conflict()).isEqualTo(Diff.Conflict.NO_COMMON_ANCESTOR);
    } else if (ml != left.size() - 1) {
      assertThat(d.conflict()).isEqualTo(Diff.Conflict.DIVERGED);
      assertThat(d.mrcaPathLeft()).isEqualTo(left.subList(ml, left.size()));
      assertThat(d.mrcaPathRight()).isEqualTo(right.subList(mr, right.size()));
    } else {
      assertThat(d.conflict()).isEqualTo(Diff.Conflict.INCREMENTAL);
      var path = new ArrayList<FsVersion>();
      path.add(right.get(mr));
      right.subList(mr + 1, right.size()).stream().filter(FsVersion::isSnapshot).forEach(path::add);
      assertThat(d.incrementalPath()).isEqualTo(path);
    }
  }
}
