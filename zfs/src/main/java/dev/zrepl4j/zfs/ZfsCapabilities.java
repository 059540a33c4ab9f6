package dev.zrepl4j.zfs;

import java.util.EnumSet;
import java.util.Set;

/**
 * What the {@code zfs} on this host can do, detected once at start-up by {@link RealZfs}.
 *
 * @param openZfs true for OpenZFS 2.x (has {@code zfs version}), false for the older ZFS of
 *     zfs-fuse
 * @param version the version string ({@code zfs version}'s first line, or a description)
 * @param features the features present
 */
public record ZfsCapabilities(boolean openZfs, String version, Set<ZfsFeature> features) {

  public ZfsCapabilities {
    features = features.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(features));
  }

  /** OpenZFS 2.x: every feature. */
  public static ZfsCapabilities openZfs(String version) {
    return new ZfsCapabilities(true, version, EnumSet.allOf(ZfsFeature.class));
  }

  /** The zfs-fuse generation (pool v23): none of the newer features. */
  public static ZfsCapabilities legacy(String version) {
    return new ZfsCapabilities(false, version, EnumSet.noneOf(ZfsFeature.class));
  }

  public boolean has(ZfsFeature feature) {
    return features.contains(feature);
  }

  /**
   * Checks that {@code feature} is present.
   *
   * @throws MissingFeatureException naming the feature and {@code operation} if it is not
   */
  public void require(ZfsFeature feature, String operation) throws MissingFeatureException {
    if (!has(feature)) {
      throw new MissingFeatureException(feature, version, operation);
    }
  }
}
