package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.replication.filter.DatasetFilter;
import dev.zrepl4j.zfs.DatasetPath;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link DatasetFilter#list(dev.zrepl4j.zfs.Zfs, java.util.function.Predicate,
 * java.util.function.IntConsumer)}: how many patterns named no listed dataset (zrepl's {@code
 * zrepl_zfs_list_unmatched_user_specified_dataset_count}). The same on real ZFS runs in the
 * daemon's PrometheusIT.
 */
class DatasetFilterUnmatchedTest {
  static List<Integer> unmatched(Map<String, Boolean> rules, String... datasets)
      throws IOException {
    var zfs = new FakeZfs();
    for (var d : datasets) {
      zfs.versions.put(DatasetPath.parse(d), List.of());
    }
    var counts = new ArrayList<Integer>();
    DatasetFilter.list(zfs, DatasetFilter.of(rules), counts::add);
    return counts;
  }

  @Test
  void countsPatternsThatNameNoListedDataset() throws IOException {
    var rules = new LinkedHashMap<String, Boolean>();
    rules.put("tank/data<", true);
    rules.put("tank/data/tmp", false);
    rules.put("tank/typo<", true);
    rules.put("tank/data/gone", false);
    assertThat(unmatched(rules, "tank/data", "tank/data/a", "tank/data/tmp"))
        .containsExactly(2); // tank/typo and tank/data/gone
  }

  @Test
  void everyPatternMatchedCountsZero() throws IOException {
    assertThat(unmatched(Map.of("tank/data<", true), "tank/data", "tank/data/a"))
        .containsExactly(0);
  }

  @Test
  void theAllPatternNamesNoDatasetAndIsNeverCounted() throws IOException {
    var rules = new LinkedHashMap<String, Boolean>();
    rules.put("<", true);
    rules.put("tank/x", false);
    assertThat(unmatched(rules, "tank", "tank/x")).containsExactly(0);
    assertThat(unmatched(rules, "tank")).containsExactly(1);
  }
}
