package dev.zrepl4j.zfs;

import java.util.List;

/** An operation needs a ZFS feature that the ZFS on this host does not have. */
public final class MissingFeatureException extends ZfsException {
  private static final long serialVersionUID = 1L;

  private final ZfsFeature feature;

  MissingFeatureException(ZfsFeature feature, String zfsDescription, String operation) {
    super(
        operation
            + " needs "
            + feature.description()
            + ", which "
            + zfsDescription
            + " does not support",
        List.of(),
        NO_STATUS,
        "");
    this.feature = feature;
  }

  /** The missing feature. */
  public ZfsFeature feature() {
    return feature;
  }
}
