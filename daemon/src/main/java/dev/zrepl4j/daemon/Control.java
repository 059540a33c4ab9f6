package dev.zrepl4j.daemon;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The control socket's messages ({@code zrepl4j status}, {@code signal}, {@code prune --dry-run},
 * {@code version}), served over our RPC on a Unix socket under the prefix {@code control}. Records
 * only: the endpoints are {@link Daemon.Endpoints}.
 */
public final class Control {
  private Control() {}

  /** The endpoint prefix on the control socket. */
  public static final String PREFIX = "control";

  /** {@code control.status}. */
  public record StatusRequest(String job) {}

  /** The daemon's state: version, start time, every job. */
  public record StatusResponse(String version, String started, List<JobStatus> jobs) {
    public StatusResponse {
      jobs = List.copyOf(jobs);
    }
  }

  /** {@code control.signal}: {@code wakeup} or {@code reset} of one job. */
  public record SignalRequest(String job, String signal) {}

  /**
   * {@code control.verify}: compare the job's received copies with the sender, the content of
   * {@code sample} snapshots per filesystem; answers a {@link
   * dev.zrepl4j.replication.VerifyReport}.
   */
  public record VerifyRequest(String job, int sample) {}

  /** {@code control.prune}: what pruning would do now, per side. */
  public record PruneRequest(String job, boolean dryRun) {}

  /**
   * {@code control.wakeup}: what {@code signal wakeup} does, answering which run serves it.
   *
   * @param job the job
   * @param run the number of the run that serves this wakeup (runs are numbered from 1 since the
   *     daemon started), for {@code control.run}
   */
  public record WakeupResponse(String job, long run) {}

  /** {@code control.run}: where run number {@code run} of {@code job} is. */
  public record RunRequest(String job, long run) {}

  /**
   * Where a run is.
   *
   * @param state pending (not started yet), running, done, unknown (too old to be remembered, or
   *     the job stopped before it ran)
   * @param result the run's outcome when done, else null
   */
  public record RunResponse(String job, long run, String state, JobStatus.@Nullable Run result) {}

  /** A list of lines. */
  public record Lines(List<String> lines) {
    public Lines {
      lines = List.copyOf(lines);
    }
  }
}
