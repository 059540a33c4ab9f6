package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.replication.filter.DatasetFilter;
import dev.zrepl4j.zfs.DatasetPath;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** How a {@link Sender} uses its {@link DatasetFilter} to list. */
class SenderFilterTest {

  private static DatasetPath p(String s) {
    return DatasetPath.parse(s);
  }

  @Test
  void aSenderListsOnlyBelowItsFiltersRoots() throws Exception {
    var zfs = new FakeZfs();
    for (var fs : List.of("tank/home", "tank/home/bob", "tank/tmp", "data/x")) {
      zfs.versions.put(p(fs), List.of());
    }
    var sender =
        new Sender(
            zfs,
            DatasetFilter.of(Map.of("tank/home<", true, "gone<", true)),
            "job",
            SenderOptions.PLAIN);
    assertThat(sender.listFilesystems())
        .extracting(FsInfo::path)
        .containsExactly("tank/home", "tank/home/bob");
    assertThat(zfs.calls).contains("listFilesystemsBelow [gone, tank/home]");
    assertThat(zfs.calls).doesNotContain("listFilesystems");
  }
}
