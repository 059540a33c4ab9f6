package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class FilesystemVersionTest {

  @Test
  void parsesSnapshotAndBookmarkNames() {
    var s = FilesystemVersion.parseFullName("tank/a b@snap 1");
    assertThat(s.filesystem()).isEqualTo(DatasetPath.of("tank", "a b"));
    assertThat(s.type()).isEqualTo(VersionType.SNAPSHOT);
    assertThat(s.name()).isEqualTo("snap 1");
    var b = FilesystemVersion.parseFullName("tank#bm");
    assertThat(b.type()).isEqualTo(VersionType.BOOKMARK);
    assertThat(b.toString()).isEqualTo("tank#bm");
  }

  @Test
  void rejectsNamesWithoutOrWithBothDelimiters() {
    for (var bad : new String[] {"tank", "tank@a#b", "tank@", "@a", "tank@a@b", "t#a#b"}) {
      assertThatThrownBy(() -> FilesystemVersion.parseFullName(bad))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining(bad);
    }
  }

  @Test
  void guidIsUnsigned64Bit() {
    long guid = Long.parseUnsignedLong("18446744073709551615");
    var v =
        new FilesystemVersion(
            DatasetPath.parse("tank"), VersionType.SNAPSHOT, "a", guid, 5, Instant.EPOCH, 0);
    assertThat(v.guidString()).isEqualTo("18446744073709551615");
    assertThat(v.fullName()).isEqualTo("tank@a");
    assertThat(v.relativeName()).isEqualTo("@a");
    assertThat(v.userRefsIfKnown()).hasValue(0);
  }
}
