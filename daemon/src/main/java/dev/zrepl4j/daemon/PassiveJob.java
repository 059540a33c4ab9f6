package dev.zrepl4j.daemon;

import dev.zrepl4j.config.Job;
import dev.zrepl4j.replication.Receiver;
import dev.zrepl4j.replication.ReceiverEndpoint;
import dev.zrepl4j.replication.SeedSource;
import dev.zrepl4j.replication.SenderEndpoint;
import dev.zrepl4j.rpc.RpcServer;
import dev.zrepl4j.zfs.Zfs;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A sink or source job: serves its endpoint over its {@code serve:} transport; a source also takes
 * its snapshots when due. A sink serves {@code receiver} (each client confined to {@code
 * root_fs/<client identity>}); a source serves {@code sender} (only what its filter allows) and the
 * seed's four pull endpoints, so a seed-era client can pull from it.
 */
final class PassiveJob extends JobRunner {
  private static final Logger log = LoggerFactory.getLogger(PassiveJob.class);

  private final Job.Passive config;
  private final RpcServer server;
  private final Transports transports;
  // a source's snapshots; null for a sink
  private final @Nullable Snapshots snapshots;
  private @Nullable AutoCloseable listener;
  // the client identities a source job has served since the daemon started, in order
  private final Set<String> clientIdentities = new LinkedHashSet<>();

  PassiveJob(
      Job.Passive config, Zfs zfs, Transports transports, Clock clock, Metrics.JobMetrics metrics) {
    super(config.name(), config.type(), clock);
    this.config = config;
    this.transports = transports;
    this.server = new RpcServer(transports.options());
    switch (config) {
      case Job.Sink s -> {
        var opts = s.recv().options();
        // one bucket for the job: every client's receives share it
        var bandwidth = limiter(s.recv().bandwidth());
        server.register(
            "receiver",
            switch (s.targets()) {
              case Job.Targets.Mapped t ->
                  new ReceiverEndpoint(
                      zfs, s.rootFs(), Receiver.Mode.SINK, s.name(), opts, t.mapping(), bandwidth);
              case Job.Targets.SenderNames t ->
                  new ReceiverEndpoint(
                      zfs, s.rootFs(), Receiver.Mode.SINK, s.name(), opts, bandwidth);
            });
        snapshots = null;
      }
      case Job.Source s -> {
        server.onConnection(c -> pulledBy(c.identity()));
        // one sender per client: each keeps its own cursor and step holds (zrepl#380)
        // one bucket for the job: every pulled stream shares it, the seed's endpoints' too
        var bandwidth = limiter(s.send().bandwidth());
        server.register(
            "sender",
            new SenderEndpoint(
                zfs, s.filesystems(), s.name(), s.send().options(), metrics::unmatched, bandwidth));
        server.register(new SeedSource(zfs, s.filesystems(), bandwidth));
        snapshots = new Snapshots(s.snapshotting(), zfs, s.filesystems(), clock);
      }
    }
  }

  @Override
  void start() throws Exception {
    var serve = config.serve();
    listener = transports.serve(name, serve, server);
    log.info("job {}: serving {}", name, serve);
    super.start();
  }

  @Override
  protected Optional<Instant> nextRun(@Nullable Instant lastEnd) throws IOException {
    return snapshots == null ? Optional.empty() : snapshots.next();
  }

  @Override
  protected JobStatus.Run run(boolean woken) throws IOException, InterruptedException {
    var started = clock.instant();
    var problems = new ArrayList<String>();
    String snapshot = null;
    if (snapshots != null && !woken) {
      setState("snapshotting");
      var r = snapshots.take();
      if (r.isPresent()) {
        snapshot = r.get().name();
        problems.addAll(r.get().hookFailures());
      }
    }
    return new JobStatus.Run(
        started.toString(), secondsSince(started), snapshot, List.of(), 0, problems);
  }

  /**
   * Records a source job's client; a new one is logged. Each client keeps its own replication
   * cursor and step holds ({@code <job>_C_<client>}, see {@code SenderEndpoint}), so any number of
   * clients may pull from one source. The seed protocol's pullers, which keep no cursor, count too.
   */
  private void pulledBy(String identity) {
    synchronized (clientIdentities) {
      if (!clientIdentities.add(identity)) {
        return;
      }
    }
    log.info("job {}: pulled by client {} (its own cursor and step holds)", name, identity);
  }

  /** The server of this job's endpoints (tests enumerate them). */
  RpcServer server() {
    return server;
  }

  /** Open connections of clients. */
  int clients() {
    return server.activeConnections();
  }

  @Override
  void stop(Duration grace) {
    try {
      if (listener != null) {
        listener.close();
      }
    } catch (Exception e) {
      log.debug("job {}: closing listener: {}", name, e.toString());
    }
    server.close();
    super.stop(grace);
  }
}
