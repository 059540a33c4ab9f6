package dev.zrepl4j.replication;

import dev.zrepl4j.zfs.Zfs;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * zrepl's {@code recv:} options of a job's receiving side.
 *
 * @param overrideProperties {@code properties.override}: {@code zfs recv -o k=v}
 * @param inheritProperties {@code properties.inherit}: {@code zfs recv -x k}
 * @param placeholderEncryption {@code placeholder.encryption}
 */
public record ReceiverOptions(
    Map<String, String> overrideProperties,
    List<String> inheritProperties,
    PlaceholderEncryption placeholderEncryption) {

  /** No property changes; placeholder encryption unspecified (refused under encrypted parents). */
  public static final ReceiverOptions DEFAULTS =
      new ReceiverOptions(Map.of(), List.of(), PlaceholderEncryption.UNSPECIFIED);

  public ReceiverOptions {
    overrideProperties = Map.copyOf(new TreeMap<>(overrideProperties));
    inheritProperties = List.copyOf(inheritProperties);
    overrideProperties.keySet().forEach(Zfs::checkPropertyName);
    inheritProperties.forEach(Zfs::checkPropertyName);
  }

  /**
   * How placeholders are created below an encrypted dataset (zrepl#504: an unencrypted placeholder
   * under an encrypted root silently made unencrypted children).
   */
  public enum PlaceholderEncryption {
    /** Refuse to create a placeholder below an encrypted dataset, asking the operator to choose. */
    UNSPECIFIED,
    /** {@code encryption=off}: for untrusted receivers that only get raw (encrypted) streams. */
    OFF,
    /** Inherit the parent's encryption (the parent's key must be loaded). */
    INHERIT
  }
}
