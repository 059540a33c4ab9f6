package dev.zrepl4j.replication;

import java.util.List;

/**
 * {@code verify}: what one side tells of one filesystem's snapshots, so that the active side can
 * compare a received copy with its source ({@link Verifier}).
 *
 * @param filesystem in the sender's namespace (the receiver maps it as for a receive)
 * @param snapshots the snapshot names whose guid and size to report (names this side lacks are left
 *     out of the answer)
 * @param digests the names (among {@code snapshots}) whose content digest to compute: a {@code zfs
 *     send} of each snapshot read through {@link dev.zrepl4j.zfs.SendStreamDigest}
 * @param raw whether those sends are raw ({@code -w}: the job sends encrypted filesystems raw, and
 *     the received copy is the sender's ciphertext)
 */
public record VerifyRequest(
    String filesystem, List<String> snapshots, List<String> digests, boolean raw) {
  public VerifyRequest {
    snapshots = List.copyOf(snapshots);
    digests = List.copyOf(digests);
    if (!snapshots.containsAll(digests)) {
      throw new IllegalArgumentException("digests must be among the snapshots: " + digests);
    }
  }
}
