package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fault harness ({@link FaultHarness}) on the OpenZFS 2.3 guest ({@link FaultPools.Guest}): the
 * daemons run the guest's {@code zfs}, the sender's tree is encrypted and sent raw ({@code
 * send.encrypted}), receives are resumable. CI's short pass: 10 faults under a fixed seed, every
 * kind once (each kill kind lands inside a stream); every fault must be survived, and a kill that
 * leaves a resume token must be resumed (not restarted: fewer bytes on the wire after it than the
 * whole stream). The system properties of {@link FaultHarnessIT} apply ({@code scripts/faults.sh
 * --guest}); the figures go to {@code target/faults-guest.txt}.
 */
// a long campaign takes hours; every wait inside has its own deadline (FaultHarness.Settings)
@Timeout(value = 12, unit = TimeUnit.HOURS)
class FaultHarnessGuestIT {
  /** The seed of CI's short pass on the guest. */
  static final long CI_SEED = 20261206L;

  @TempDir Path dir;

  @Test
  void everyInjectedFaultIsSurvivedAndEveryInterruptedReceiveResumed() throws Exception {
    var outcomes =
        FaultHarnessIT.campaign(
            dir, FaultPools::guest, 10, CI_SEED, Path.of("target/faults-guest.txt"));
    if (System.getProperty("faults.replay") == null && outcomes.size() >= 10) {
      // every kind once: the kills inside a stream must have left tokens, and those were resumed
      assertThat(outcomes.stream().filter(FaultHarness.Outcome::resumed).count())
          .as("faults after which a run resumed an interrupted receive")
          .isGreaterThanOrEqualTo(1);
    }
  }
}
