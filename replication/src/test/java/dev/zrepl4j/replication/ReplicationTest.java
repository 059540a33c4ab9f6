package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.replication.MemoryPools.Fault;
import dev.zrepl4j.replication.Replication.FsReport.State;
import dev.zrepl4j.replication.pruning.PruneRequest;
import dev.zrepl4j.replication.pruning.PruneResult;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The engine against in-memory stand-ins of both sides. */
class ReplicationTest {

  private final MemoryPools pools = new MemoryPools();
  // one driver's memory over the runs of a test, as a daemon's job keeps it
  private final Replication.Settled settled = new Replication.Settled();

  private Replication.Config config() {
    return Replication.Config.defaults("job").withRetries(3, Duration.ZERO);
  }

  private Replication.Report run(Replication.Config config) throws Exception {
    return new Replication(config, pools.connector(), Replication.Progress.none(), settled).run();
  }

  @Test
  void initialThenIncrementalForANestedTreeWithAGap() throws Exception {
    pools.snapshot("p/a", "1", 10);
    pools.snapshot("p/a/b/c", "1", 11);
    pools.snapshot("p/x", "1", 12);
    var r = run(config());
    assertThat(r.ok()).isTrue();
    assertThat(r.filesystems())
        .extracting(Replication.FsReport::state)
        .containsOnly(State.REPLICATED);
    assertThat(pools.receiver.get("p/a/b").placeholder).isTrue();
    assertThat(pools.receiverSnapshots("p/a/b/c")).containsExactly("1");
    assertThat(r.of("p/a").newestCommon()).extracting(FsVersion::name).isEqualTo("1");

    pools.snapshot("p/a", "2", 20);
    pools.snapshot("p/a", "3", 21);
    pools.snapshot("p/a/b/c", "2", 22);
    r = run(config());
    assertThat(r.of("p/a"))
        .isEqualTo(
            new Replication.FsReport(
                "p/a",
                State.REPLICATED,
                2,
                2,
                r.of("p/a").bytes(),
                "",
                r.of("p/a").newestCommon()));
    // the newest version both sides have: the last step's target, or the in-sync version
    assertThat(r.of("p/a").newestCommon()).extracting(FsVersion::name).isEqualTo("3");
    assertThat(r.of("p/a/b/c").newestCommon()).extracting(FsVersion::name).isEqualTo("2");
    assertThat(r.of("p/x").state()).isEqualTo(State.UP_TO_DATE);
    assertThat(r.of("p/x").newestCommon()).extracting(FsVersion::name).isEqualTo("1");
    assertThat(pools.receiverSnapshots("p/a")).containsExactly("1", "2", "3");
    assertThat(pools.receiverSnapshots("p/a/b/c")).containsExactly("1", "2");
    // one completion per filesystem and run, at its newest step (p/a's two steps of the second
    // run are one), all of a run in one call
    assertThat(pools.completed).hasSize(5);
    assertThat(pools.completed.getLast().to().name()).isIn("2", "3");
    assertThat(pools.completed)
        .filteredOn(c -> c.filesystem().equals("p/a"))
        .extracting(c -> c.to().name())
        .containsExactly("1", "3");
    assertThat(pools.completionBatches).containsExactly(3, 2);
    assertThat(pools.receiverBatches).containsExactly(3, 2); // the last-received holds alike
    // held ahead beside the sender's cursors, in one call as well; the receiver's releases never
    // before the sender's cursors are in place
    assertThat(pools.receiverHoldsAhead).containsExactly(3, 2);
    for (int n : List.of(3, 2)) {
      assertThat(pools.completionEvents.indexOf("cursors " + n))
          .as("the cursors of %d before the receiver's releases: %s", n, pools.completionEvents)
          .isNotNegative()
          .isLessThan(pools.completionEvents.indexOf("receiver confirmed " + n));
    }
    // the step holds of every planned step of a run, placed ahead in one call
    assertThat(pools.protectBatches).containsExactly(3, 3);
    assertThat(run(config()).filesystems())
        .extracting(Replication.FsReport::state)
        .containsOnly(State.UP_TO_DATE);
  }

  @Test
  void theFirstStepsHoldsGoBeforeTheStepsTheOthersBesideThemAndAllBeforeAnyCompletion()
      throws Exception {
    int n = Replication.PROTECTED_FIRST + 24;
    for (int i = 0; i < n; i++) {
      // created in the opposite order of their names: the oldest steps are the last filesystems
      pools.snapshot("p/fs" + (100 + i), "1", 1000 - i);
    }
    pools.laterProtectMillis = 300; // the holds beside the steps take longer than their first ones
    var r = run(config());
    assertThat(r.filesystems())
        .extracting(Replication.FsReport::state)
        .containsOnly(State.REPLICATED);
    assertThat(pools.protectBatches)
        .containsExactly(Replication.PROTECTED_FIRST, n - Replication.PROTECTED_FIRST);
    var t = List.copyOf(pools.timeline);
    // the first batch before any step; the oldest steps (those it holds) go first
    assertThat(t.getFirst()).isEqualTo("protected " + Replication.PROTECTED_FIRST);
    assertThat(t.get(1)).isEqualTo("sent p/fs" + (100 + n - 1));
    // the other holds beside the steps: some steps went before they were placed
    int later = t.indexOf("protected " + (n - Replication.PROTECTED_FIRST));
    assertThat(later).isGreaterThan(1);
    // and no completion before they were placed (a hold placed after its release would stay)
    assertThat(t.stream().filter(e -> e.startsWith("completed")).map(t::indexOf))
        .isNotEmpty()
        .allSatisfy(i -> assertThat(i).isGreaterThan(later));
  }

  @Test
  void listsEachSideWithOneBatchedCall() throws Exception {
    for (int i = 0; i < 20; i++) {
      pools.snapshot("p/fs" + i, "1", 10);
    }
    run(config());
    assertThat(pools.senderListVersionsCalls).hasValue(1);
    // beside its listing of filesystems, not after it: the receiver is asked before it is known
    // to have any (nothing there yet: empty lists)
    assertThat(pools.receiverListVersionsCalls).hasValue(1);
    for (int i = 0; i < 20; i++) {
      pools.snapshot("p/fs" + i, "2", 20);
    }
    run(config());
    assertThat(pools.senderListVersionsCalls).hasValue(2);
    assertThat(pools.receiverListVersionsCalls).hasValue(2);
  }

  @Test
  void runsTheGloballyOldestStepFirstAndParentsInitialBeforeChildren() throws Exception {
    pools.snapshot("p/child/leaf", "old", 5); // oldest, but its parents are new too
    pools.snapshot("p/child", "c1", 30);
    pools.snapshot("p", "p1", 40);
    pools.snapshot("q", "q1", 10);
    pools.snapshot("q", "q2", 20);
    var r = run(config().withInitialPolicy(InitialPolicy.ALL));
    assertThat(r.ok()).isTrue();
    assertThat(pools.sendLog)
        .containsExactly(
            "q full q1", "q -i q1 q2", "p full p1", "p/child full c1", "p/child/leaf full old");

    pools.sendLog.clear();
    pools.snapshot("p/child/leaf", "n1", 50);
    pools.snapshot("q", "n2", 52);
    pools.snapshot("p", "n3", 51);
    run(config());
    // incremental steps wait for nobody: globally oldest first
    assertThat(pools.sendLog).containsExactly("p/child/leaf -i old n1", "p -i p1 n3", "q -i q2 n2");
  }

  @Test
  void aPermanentErrorStopsOnlyThatFilesystemAndItsChildrensInitialReplication() throws Exception {
    pools.snapshot("p/bad", "1", 10);
    pools.snapshot("p/bad/child", "1", 11);
    pools.snapshot("p/good", "1", 12);
    pools.fault("p/bad", Fault.SEND_REFUSED);
    var r = run(config());
    assertThat(r.ok()).isFalse();
    assertThat(r.of("p/bad").state()).isEqualTo(State.FAILED);
    assertThat(r.of("p/bad").message()).contains("zfs send failed (injected)");
    assertThat(r.of("p/bad").stepsDone()).isZero();
    assertThat(r.of("p/bad").stepsTotal()).isEqualTo(1);
    assertThat(r.of("p/bad/child").state()).isEqualTo(State.SKIPPED);
    assertThat(r.of("p/bad/child").message()).contains("parent p/bad failed");
    assertThat(r.of("p/good").state()).isEqualTo(State.REPLICATED);
    // a permanent error is not retried
    assertThat(pools.sendLog).filteredOn(s -> s.startsWith("p/bad ")).hasSize(1);

    // the next run catches up
    assertThat(run(config()).ok()).isTrue();
    assertThat(pools.receiverSnapshots("p/bad/child")).containsExactly("1");
  }

  @Test
  void temporaryErrorsAreRetriedOnANewConnection() throws Exception {
    pools.snapshot("p/fs", "1", 10);
    pools.snapshot("p/fs", "2", 11);
    pools.fault("p/fs", Fault.CONNECTION_LOST, Fault.CONNECTION_LOST);
    var r = run(config());
    assertThat(r.of("p/fs").state()).isEqualTo(State.REPLICATED);
    // the first and two retries; the sender's completion at the run's end reuses the last
    assertThat(pools.connects).hasValue(3);
    assertThat(pools.receiverSnapshots("p/fs")).containsExactly("2");
  }

  /**
   * The sender's stream starts at the receiver's first read, so a failure to start it surfaces
   * inside the receive, where the real receiver wraps a zfs failure as its own ("receive into ...
   * failed", permanent). The engine still sees the sender's failure as raised: a temporary one is
   * retried, a permanent one is not.
   */
  @Test
  void aSendThatFailsToStartIsJudgedByItsOwnErrorNotTheReceiversWrapping() throws Exception {
    pools.snapshot("p/fs", "1", 10);
    pools.snapshot("p/bad", "1", 11);
    pools.fault("p/fs", Fault.CONNECTION_LOST);
    pools.fault("p/bad", Fault.SEND_REFUSED);
    Replication.Connector wrapping =
        () -> {
          pools.connects.incrementAndGet();
          var inner = pools.new Receiver();
          ReceiverApi receiver =
              new ReceiverApi() {
                @Override
                public List<FsInfo> listFilesystems() throws IOException {
                  return inner.listFilesystems();
                }

                @Override
                public FsListRequest mapped(FsListRequest request) {
                  return inner.mapped(request);
                }

                @Override
                public List<FsVersionList> listVersionsOf(FsListRequest request)
                    throws IOException {
                  return inner.listVersionsOf(request);
                }

                @Override
                public ReceiveResult receive(ReceiveSpec spec, java.io.InputStream stream)
                    throws IOException {
                  try {
                    return inner.receive(spec, stream);
                  } catch (IOException e) {
                    throw new dev.zrepl4j.rpc.RemoteException(
                        dev.zrepl4j.rpc.ErrorCode.UNKNOWN,
                        "receive into " + spec.filesystem() + " failed: " + e.getMessage(),
                        e);
                  }
                }

                @Override
                public void confirmReceived(ReceivedBase base) {
                  inner.confirmReceived(base);
                }

                @Override
                public void confirmReceivedAll(ReceivedBaseBatch batch) throws IOException {
                  inner.confirmReceivedAll(batch);
                }

                @Override
                public void holdReceivedAll(ReceivedBaseBatch batch) throws IOException {
                  inner.holdReceivedAll(batch);
                }

                @Override
                public void renameReceived(ReceivedRename rename) {
                  inner.renameReceived(rename);
                }

                @Override
                public PruneResult prune(PruneRequest request) throws IOException {
                  return inner.prune(request);
                }

                @Override
                public VerifyFacts verify(VerifyRequest request) throws IOException {
                  return inner.verify(request);
                }
              };
          return new Replication.Connection(pools.new Sender(), receiver, () -> {});
        };
    var r = new Replication(config(), wrapping, Replication.Progress.none()).run();
    assertThat(r.of("p/fs").state()).isEqualTo(State.REPLICATED);
    assertThat(pools.sendLog).filteredOn(s -> s.startsWith("p/fs ")).hasSize(2);
    assertThat(r.of("p/bad").state()).isEqualTo(State.FAILED);
    assertThat(r.of("p/bad").message()).isEqualTo("zfs send failed (injected)");
    assertThat(pools.sendLog).filteredOn(s -> s.startsWith("p/bad ")).hasSize(1);
  }

  @Test
  void anUpToDateFilesystemsSenderCursorIsConfirmedOnceByADriverAndAgainAfterARestart()
      throws Exception {
    var one = pools.snapshot("p/fs", "1", 10);
    assertThat(run(config()).of("p/fs").state()).isEqualTo(State.REPLICATED);
    assertThat(pools.completed).containsExactly(new SendCompleted("p/fs", null, one));
    // the step's own completion settled it: later runs of the same driver cost nothing more
    assertThat(run(config()).of("p/fs").state()).isEqualTo(State.UP_TO_DATE);
    assertThat(run(config()).of("p/fs").state()).isEqualTo(State.UP_TO_DATE);
    assertThat(pools.completed).hasSize(1);
    // a restarted driver remembers nothing: it confirms the cursor at the common snapshot once
    var restarted = new Replication.Settled();
    for (int i = 0; i < 2; i++) {
      var r =
          new Replication(config(), pools.connector(), Replication.Progress.none(), restarted)
              .run();
      assertThat(r.of("p/fs").state()).isEqualTo(State.UP_TO_DATE);
    }
    assertThat(pools.completed)
        .containsExactly(
            new SendCompleted("p/fs", null, one), new SendCompleted("p/fs", null, one));
    assertThat(restarted.contains("p/fs")).isTrue();
  }

  @Test
  void confirmationsAfterARestartDoNotHoldUpTheStepsOfOtherFilesystems() throws Exception {
    var a1 = pools.snapshot("p/a", "1", 10);
    pools.snapshot("p/b", "1", 11);
    assertThat(run(config()).ok()).isTrue();
    pools.snapshot("p/b", "2", 12);
    pools.completed.clear();
    // a restarted driver: p/a (in sync) is confirmed, and its confirmation is slow
    var gate = new java.util.concurrent.CountDownLatch(1);
    pools.completionGates.put("p/a", gate);
    var restarted = new Replication.Settled();
    var run =
        java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()
            .submit(
                () ->
                    new Replication(
                            config(), pools.connector(), Replication.Progress.none(), restarted)
                        .run());
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (!pools.receiverSnapshots("p/b").contains("2") && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertThat(pools.receiverSnapshots("p/b"))
        .as("p/b's step ran while p/a's confirmation waited")
        .containsExactly("1", "2");
    assertThat(run.isDone()).isFalse(); // the run waits for the confirmation
    gate.countDown();
    var r = run.get(10, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(r.ok()).isTrue();
    assertThat(r.of("p/a").state()).isEqualTo(State.UP_TO_DATE);
    assertThat(r.of("p/b").state()).isEqualTo(State.REPLICATED);
    assertThat(pools.completed).contains(new SendCompleted("p/a", null, a1));
    assertThat(restarted.contains("p/a")).isTrue();
    assertThat(restarted.contains("p/b")).isTrue();
  }

  @Test
  void aCompletionLostAfterTheReceiveIsConfirmedWhenTheRetryFindsBothSidesInSync()
      throws Exception {
    var one = pools.snapshot("p/fs", "1", 10);
    pools.completionFault("p/fs", Fault.CONNECTION_LOST);
    var r = run(config());
    assertThat(r.ok()).isTrue();
    // the step's data arrived in this run: it counts as done, not as "up to date"
    assertThat(r.of("p/fs").state()).isEqualTo(State.REPLICATED);
    assertThat(r.of("p/fs").stepsDone()).isEqualTo(1);
    assertThat(r.of("p/fs").bytes()).isPositive();
    assertThat(pools.receiverSnapshots("p/fs")).containsExactly("1");
    assertThat(pools.sendLog).containsExactly("p/fs full 1"); // not sent again
    // the retry found both sides at @1 and had the sender move its cursor there
    assertThat(pools.completed).containsExactly(new SendCompleted("p/fs", null, one));
    assertThat(settled.contains("p/fs")).isTrue();
  }

  @Test
  void aLostCompletionIsRetriedOnANewConnectionAndCoversTheRunsEarlierSteps() throws Exception {
    var one = pools.snapshot("p/fs", "1", 10);
    assertThat(run(config()).ok()).isTrue();
    pools.completed.clear();
    pools.snapshot("p/fs", "2", 11);
    var three = pools.snapshot("p/fs", "3", 12);
    pools.completionFault("p/fs", Fault.CONNECTION_LOST);
    int connects = pools.connects.get();
    var r = run(config());
    assertThat(r.of("p/fs").state()).isEqualTo(State.REPLICATED);
    assertThat(r.of("p/fs").stepsDone()).isEqualTo(2);
    assertThat(r.of("p/fs").stepsTotal()).isEqualTo(2);
    assertThat(pools.receiverSnapshots("p/fs")).containsExactly("1", "2", "3");
    // one completion for both steps (from @2, the newest step's source: the sender releases the
    // step holds of every older snapshot too), sent again on a new connection after the loss
    assertThat(pools.completed).extracting(SendCompleted::to).containsExactly(three);
    assertThat(pools.completed.getFirst().from()).isNotEqualTo(one);
    assertThat(pools.completed.getFirst().from()).extracting(FsVersion::name).isEqualTo("2");
    // the first run's, this run's lost one, its retry
    assertThat(pools.completionBatches).containsExactly(1, 1, 1);
    // the steps' (reused for the completion, lost with it) and the retry's
    assertThat(pools.connects.get() - connects).isEqualTo(2);
    assertThat(settled.contains("p/fs")).isTrue();
  }

  @Test
  void aSenderWithoutBatchedCompletionsIsToldOneByOne() throws Exception {
    pools.batchedCompletions = false;
    pools.snapshot("p/a", "1", 10);
    pools.snapshot("p/b", "1", 11);
    var r = run(config());
    assertThat(r.ok()).isTrue();
    assertThat(pools.completed)
        .extracting(SendCompleted::filesystem)
        .containsExactlyInAnyOrder("p/a", "p/b");
    assertThat(pools.completionBatches).isEmpty();
    assertThat(pools.receiverBatches).isEmpty();
    assertThat(settled.contains("p/a")).isTrue();
    assertThat(settled.contains("p/b")).isTrue();
  }

  @Test
  void aSenderThatCannotMoveItsCursorsAheadCompletesBeforeTheReceiverReleases() throws Exception {
    pools.senderWithoutCursorsAhead = true;
    pools.snapshot("p/a", "1", 10);
    pools.snapshot("p/b", "1", 11);
    var r = run(config());
    assertThat(r.ok()).isTrue();
    assertThat(pools.completionEvents)
        .filteredOn(e -> !e.startsWith("receiver held"))
        .containsExactly("sender completed 2", "receiver confirmed 2");
  }

  @Test
  void aReceiverThatCannotHoldAheadIsConfirmedAsBeforeAndNotAskedAgainInTheRun() throws Exception {
    pools.receiverWithoutHoldAhead = true;
    for (int i = 0; i < Replication.COMPLETION_BATCH + 1; i++) {
      pools.snapshot("p/f" + i, "1", 10 + i);
    }
    var r = run(config());
    assertThat(r.ok()).isTrue();
    // two batches of completions (a full one during the run, the rest at its end), one refusal
    assertThat(pools.receiverBatches).hasSize(2);
    assertThat(pools.receiverHoldsAheadRefused.get()).isEqualTo(1);
    assertThat(pools.receiverHoldsAhead).isEmpty();
  }

  @Test
  void aCompletionRefusedAfterTheReceiveIsConfirmedByTheNextRunOfTheSameDriver() throws Exception {
    pools.snapshot("p/fs", "1", 10);
    pools.snapshot("p/fs", "2", 11);
    assertThat(run(config()).ok()).isTrue();
    pools.completed.clear();
    var three = pools.snapshot("p/fs", "3", 12);
    // refused in the batch, then alone, then by the next run's confirmation
    pools.completionFault("p/fs", Fault.SEND_REFUSED, Fault.SEND_REFUSED, Fault.SEND_REFUSED);
    var r = run(config());
    assertThat(r.of("p/fs").state()).isEqualTo(State.FAILED);
    assertThat(pools.receiverSnapshots("p/fs")).containsExactly("2", "3");
    assertThat(settled.contains("p/fs")).isFalse();
    // the next run finds p/fs up to date; the sender still refuses: reported, not failed
    r = run(config());
    assertThat(r.of("p/fs").state()).isEqualTo(State.UP_TO_DATE);
    assertThat(r.of("p/fs").message())
        .contains("the sender's cursor is not confirmed (next run retries)")
        .contains("sender failed (injected)");
    assertThat(pools.completed).isEmpty();
    // and the one after confirms it at the newest common snapshot
    assertThat(run(config()).of("p/fs").message()).isEqualTo("in sync at " + three);
    assertThat(pools.completed).containsExactly(new SendCompleted("p/fs", null, three));
    assertThat(run(config()).ok()).isTrue();
    assertThat(pools.completed).hasSize(1);
  }

  @Test
  void temporaryErrorsFailTheFilesystemAfterTheLastAttempt() throws Exception {
    pools.snapshot("p/fs", "1", 10);
    pools.snapshot("p/other", "1", 11);
    pools.fault("p/fs", Fault.CONNECTION_LOST, Fault.CONNECTION_LOST, Fault.CONNECTION_LOST);
    var r = run(config());
    assertThat(r.of("p/fs").state()).isEqualTo(State.FAILED);
    assertThat(r.of("p/fs").message())
        .startsWith("after 3 attempts: IOException: connection reset");
    assertThat(r.of("p/other").state()).isEqualTo(State.REPLICATED);
  }

  @Test
  void aCutStreamIsResumedFromTheReceiversToken() throws Exception {
    pools.resumable = true;
    pools.snapshot("p/fs", "1", 10);
    pools.snapshot("p/fs", "2", 11);
    assertThat(run(config()).ok()).isTrue();
    pools.snapshot("p/fs", "3", 12);
    pools.snapshot("p/fs", "4", 13);
    pools.fault("p/fs", Fault.STREAM_CUT);
    var r = run(config());
    assertThat(r.of("p/fs").state()).isEqualTo(State.REPLICATED);
    assertThat(pools.sendLog).containsSubsequence("p/fs -i 2 3", "p/fs resume 3", "p/fs -i 3 4");
    assertThat(pools.receiverSnapshots("p/fs")).containsExactly("2", "3", "4");
  }

  @Test
  void aCutStreamIsRestartedWhereTheReceiverCannotResume() throws Exception {
    pools.snapshot("p/fs", "1", 10);
    pools.fault("p/fs", Fault.STREAM_CUT);
    var r = run(config());
    assertThat(r.of("p/fs").state()).isEqualTo(State.REPLICATED);
    assertThat(pools.sendLog).containsExactly("p/fs full 1", "p/fs full 1");
  }

  @Test
  void aPartialReceiveLeftByAnEarlierRunIsResumedFirst() throws Exception {
    pools.resumable = true;
    pools.snapshot("p/fs", "1", 10);
    pools.fault("p/fs", Fault.STREAM_CUT);
    var r = run(config().withRetries(1, Duration.ZERO));
    assertThat(r.of("p/fs").state()).isEqualTo(State.FAILED);
    assertThat(pools.receiver.get("p/fs").token).isNotEmpty();
    pools.snapshot("p/fs", "2", 11);
    r = run(config());
    assertThat(r.of("p/fs").state()).isEqualTo(State.REPLICATED);
    assertThat(pools.sendLog).containsExactly("p/fs full 1", "p/fs resume 1", "p/fs -i 1 2");
  }

  @Test
  void aDivergedReceiverIsAConflictAndNothingIsTouched() throws Exception {
    pools.snapshot("p/fs", "1", 10);
    pools.snapshot("p/ok", "1", 10);
    run(config());
    pools.receiverSnapshot("p/fs", "mine");
    pools.snapshot("p/fs", "2", 11);
    pools.snapshot("p/ok", "2", 11);
    var before = pools.receiverSnapshots("p/fs");
    var r = run(config());
    assertThat(r.of("p/fs").state()).isEqualTo(State.CONFLICT);
    assertThat(r.of("p/fs").message())
        .contains("diverged after the common snapshot @1")
        .contains("@mine")
        .contains("@2");
    assertThat(r.of("p/ok").state()).isEqualTo(State.REPLICATED);
    assertThat(pools.receiverSnapshots("p/fs")).isEqualTo(before);
  }

  @Test
  void batchingSendsOneStep() throws Exception {
    pools.snapshot("p/fs", "1", 10);
    run(config());
    for (int i = 2; i <= 6; i++) {
      pools.snapshot("p/fs", "" + i, 10 + i);
    }
    pools.sendLog.clear();
    var r = run(config().withBatchIntermediates(true));
    assertThat(r.of("p/fs").stepsTotal()).isEqualTo(1);
    assertThat(pools.sendLog).containsExactly("p/fs -I 1 6");
    assertThat(pools.receiverSnapshots("p/fs")).containsExactly("1", "2", "3", "4", "5", "6");
  }

  @Test
  void concurrentStepsGiveTheSameResult() throws Exception {
    for (int i = 0; i < 12; i++) {
      pools.snapshot("p/fs" + i, "1", i);
      pools.snapshot("p/fs" + i + "/c", "1", i);
      pools.snapshot("p/fs" + i, "2", 100 + i);
    }
    var r = run(config().withStepConcurrency(4).withInitialPolicy(InitialPolicy.ALL));
    assertThat(r.ok()).isTrue();
    // one per worker, and one for the step holds placed beside the first steps (36 steps > 16)
    assertThat(pools.connects.get()).isBetween(1, 5);
    assertThat(pools.completionBatches).containsExactly(24); // p/fs0..11 and their children
    for (int i = 0; i < 12; i++) {
      assertThat(pools.receiverSnapshots("p/fs" + i)).containsExactly("1", "2");
      assertThat(pools.receiverSnapshots("p/fs" + i + "/c")).containsExactly("1");
    }
    // each child's full receive came after its parent's
    var log = new ArrayList<>(pools.sendLog);
    for (int i = 0; i < 12; i++) {
      assertThat(log.indexOf("p/fs" + i + "/c full 1"))
          .isGreaterThan(log.indexOf("p/fs" + i + " full 1"));
    }
  }

  @Test
  void reportsProgress() throws Exception {
    pools.snapshot("p/fs", "1", 10);
    var last = new AtomicLong();
    var r =
        new Replication(config(), pools.connector(), (fs, step, bytes) -> last.set(bytes)).run();
    assertThat(last.get()).isPositive().isEqualTo(r.of("p/fs").bytes());
  }

  @Test
  void eachStepIsSizeEstimatedBeforeItRunsAndItsProgressCarriesTheEstimate() throws Exception {
    pools.snapshot("p/fs", "1", 10);
    pools.snapshot("p/fs", "2", 20);
    pools.snapshot("p/none", "1", 11);
    var r = run(config());
    assertThat(r.ok()).isTrue();
    pools.snapshot("p/fs", "3", 30);
    pools.snapshot("p/fs", "4", 40);
    pools.snapshot("p/none", "2", 41);
    synchronized (pools) {
      pools.estimates.put("p/fs", 1234L);
      pools.sendDryLog.clear();
    }
    var seen = new java.util.concurrent.CopyOnWriteArrayList<Replication.StepProgress>();
    var t0 = java.time.Instant.now();
    r =
        new Replication(
                config(),
                pools.connector(),
                new Replication.Progress() {
                  @Override
                  public void transferred(String filesystem, Step step, long bytes) {
                    throw new AssertionError("step() is called, not transferred()");
                  }

                  @Override
                  public void step(Replication.StepProgress p) {
                    seen.add(p);
                  }
                },
                settled)
            .run();
    assertThat(r.ok()).isTrue();
    // both steps of p/fs estimated before its first one ran; p/none asked too, and had none
    assertThat(pools.sendDryLog)
        .containsExactlyInAnyOrder("p/fs -i 2 3", "p/fs -i 3 4", "p/none -i 1 2");
    var fs = seen.stream().filter(p -> p.filesystem().equals("p/fs")).toList();
    assertThat(fs).allMatch(p -> p.expectedBytes() == 1234 && p.steps() == 2);
    assertThat(fs).allMatch(p -> !p.started().isBefore(t0.minusSeconds(1)));
    assertThat(fs.getFirst().bytes()).isZero(); // told as the step starts
    assertThat(fs).extracting(Replication.StepProgress::stepNumber).contains(1, 2);
    assertThat(fs.getLast().bytes()).isPositive();
    assertThat(seen.stream().filter(p -> p.filesystem().equals("p/none")))
        .isNotEmpty()
        .allMatch(p -> p.expectedBytes() == -1 && p.stepNumber() == 1 && p.steps() == 1);
  }

  @Test
  void sizeEstimatesRunAtMostTheConfiguredNumberAtOnce() throws Exception {
    for (int i = 0; i < 8; i++) {
      pools.snapshot("p/fs" + i, "1", 10 + i);
      pools.estimates.put("p/fs" + i, 100L);
    }
    var r = run(config().withStepConcurrency(4).withSizeEstimates(1));
    assertThat(r.ok()).isTrue();
    assertThat(pools.sendDryLog).hasSize(8);
    assertThat(pools.estimatesInFlightMax).hasValue(1);

    // with more allowed they do overlap (so the bound above is what held them)
    for (int i = 0; i < 8; i++) {
      pools.snapshot("p/fs" + i, "2", 20 + i);
    }
    r = run(config().withStepConcurrency(4).withSizeEstimates(4));
    assertThat(r.ok()).isTrue();
    assertThat(pools.estimatesInFlightMax.get()).isGreaterThan(1);
  }

  @Test
  void failingToListASideFailsTheRun() {
    Replication.Connector broken =
        () -> {
          throw new IOException("connection refused");
        };
    assertThatThrownBy(() -> new Replication(config(), broken, Replication.Progress.none()).run())
        .isInstanceOf(IOException.class)
        .hasMessage("connection refused");
  }

  @Test
  void configIsValidated() {
    assertThatThrownBy(() -> config().withStepConcurrency(0))
        .hasMessageContaining("stepConcurrency");
    assertThatThrownBy(() -> config().withRetries(0, Duration.ZERO))
        .hasMessageContaining("maxAttempts");
    assertThat(List.of(Replication.Config.defaults("j").initialPolicy()))
        .containsExactly(InitialPolicy.MOST_RECENT);
  }

  @Test
  void anInterruptEndsARunThatIsWaitingToRetry() throws Exception {
    pools.snapshot("p/a", "1", 10);
    Replication.Connector flaky =
        () -> {
          var c = pools.connector().connect();
          var sender =
              (SenderApi)
                  java.lang.reflect.Proxy.newProxyInstance(
                      SenderApi.class.getClassLoader(),
                      new Class<?>[] {SenderApi.class},
                      (proxy, m, args) -> {
                        if (m.getName().equals("send")) {
                          throw new IOException("network down");
                        }
                        try {
                          return m.invoke(c.sender(), args);
                        } catch (java.lang.reflect.InvocationTargetException e) {
                          throw e.getCause();
                        }
                      });
          return new Replication.Connection(sender, c.receiver(), c);
        };
    var config = Replication.Config.defaults("job").withRetries(5, Duration.ofSeconds(30));
    var outcome = new java.util.concurrent.CompletableFuture<Throwable>();
    var t =
        Thread.ofPlatform()
            .start(
                () -> {
                  try {
                    new Replication(config, flaky, Replication.Progress.none()).run();
                    outcome.complete(null);
                  } catch (Throwable e) {
                    outcome.complete(e);
                  }
                });
    Thread.sleep(500); // the first send failed; the worker waits 30 s to retry
    t.interrupt();
    assertThat(outcome.get(5, java.util.concurrent.TimeUnit.SECONDS))
        .isInstanceOf(InterruptedException.class);
  }

  @Test
  void aRefusedClientIsNotRetried() {
    pools.snapshot("p/a", "1", 10);
    var dials = new java.util.concurrent.atomic.AtomicInteger();
    Replication.Connector refused =
        () -> {
          dials.incrementAndGet();
          throw new dev.zrepl4j.rpc.RefusedException("tls: CN 'x' is not in client_cns", null);
        };
    var config = Replication.Config.defaults("job").withRetries(5, Duration.ZERO);
    assertThatThrownBy(() -> new Replication(config, refused, Replication.Progress.none()).run())
        .isInstanceOf(dev.zrepl4j.rpc.RefusedException.class);
    assertThat(dials.get()).isEqualTo(1);
  }
}
