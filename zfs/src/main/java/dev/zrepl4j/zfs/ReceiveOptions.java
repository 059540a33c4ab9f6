package dev.zrepl4j.zfs;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Options of {@code zfs receive}.
 *
 * @param resumable {@code -s}: keep a partial receive so it can be resumed (OpenZFS)
 * @param noMount {@code -u}: do not mount the received filesystem
 * @param force {@code -F}: roll back / destroy on the target first; only when explicitly asked
 * @param setProperties {@code -o name=value} (OpenZFS)
 * @param excludeProperties {@code -x name} (OpenZFS)
 */
public record ReceiveOptions(
    boolean resumable,
    boolean noMount,
    boolean force,
    Map<String, String> setProperties,
    List<String> excludeProperties) {

  /** No flags: not resumable, mounted, never forced. */
  public static final ReceiveOptions DEFAULTS =
      new ReceiveOptions(false, false, false, Map.of(), List.of());

  public ReceiveOptions {
    setProperties = Map.copyOf(new TreeMap<>(setProperties));
    excludeProperties = List.copyOf(excludeProperties);
    for (var k : setProperties.keySet()) {
      Zfs.checkPropertyName(k);
    }
    excludeProperties.forEach(Zfs::checkPropertyName);
  }

  public ReceiveOptions withResumable(boolean on) {
    return new ReceiveOptions(on, noMount, force, setProperties, excludeProperties);
  }

  public ReceiveOptions withNoMount(boolean on) {
    return new ReceiveOptions(resumable, on, force, setProperties, excludeProperties);
  }

  public ReceiveOptions withForce(boolean on) {
    return new ReceiveOptions(resumable, noMount, on, setProperties, excludeProperties);
  }

  public ReceiveOptions withProperties(Map<String, String> set, List<String> exclude) {
    return new ReceiveOptions(resumable, noMount, force, set, exclude);
  }
}
