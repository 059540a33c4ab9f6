package dev.zrepl4j.replication;

import static dev.zrepl4j.replication.Versions.v;
import static dev.zrepl4j.replication.Versions.vs;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class PlannerTest {
  private static final FsInfo PRESENT = new FsInfo("p/fs", false, "");
  private static final FsInfo PLACEHOLDER = new FsInfo("p/fs", true, "");

  private final Planner planner = new Planner(InitialPolicy.MOST_RECENT, false);

  private static List<Step> steps(FsPlan plan) {
    assertThat(plan).isInstanceOf(FsPlan.Steps.class);
    return ((FsPlan.Steps) plan).steps();
  }

  @Test
  void initialReplicationSendsTheNewestSnapshotByDefault() {
    var plan = planner.plan("p/fs", vs("@a:1", "@b:2", "#c:3"), null, List.of());
    assertThat(steps(plan)).containsExactly(new Step.Full(v("@b:2")));
  }

  @Test
  void initialPolicyAllSendsEverySnapshot() {
    var plan =
        new Planner(InitialPolicy.ALL, false)
            .plan("p/fs", vs("@a:1", "#x:2", "@b:3", "@c:4"), null, List.of());
    assertThat(steps(plan))
        .containsExactly(
            new Step.Full(v("@a:1")),
            new Step.Incremental(v("@a:1"), v("@b:3"), false),
            new Step.Incremental(v("@b:3"), v("@c:4"), false));
  }

  @Test
  void initialPolicyAllWithBatchingIsAFullAndOneBatch() {
    var plan =
        new Planner(InitialPolicy.ALL, true)
            .plan("p/fs", vs("@a:1", "@b:2", "@c:3"), null, List.of());
    assertThat(steps(plan))
        .containsExactly(
            new Step.Full(v("@a:1")), new Step.Incremental(v("@a:1"), v("@c:3"), true));
  }

  @Test
  void initialPolicyFailIsAConflict() {
    var plan = new Planner(InitialPolicy.FAIL, false).plan("p/fs", vs("@a:1"), null, List.of());
    assertThat(plan).isInstanceOf(FsPlan.Conflict.class);
    var c = (FsPlan.Conflict) plan;
    assertThat(c.kind()).isEqualTo(FsPlan.Conflict.Kind.INITIAL_REPLICATION_REFUSED);
    assertThat(c.report()).contains("'fail'").contains("@a");
  }

  @Test
  void placeholderCountsAsAbsent() {
    var plan = planner.plan("p/fs", vs("@a:1"), PLACEHOLDER, vs("@zzz:99"));
    assertThat(steps(plan)).containsExactly(new Step.Full(v("@a:1")));
  }

  @Test
  void senderWithoutSnapshotsHasNothingToSend() {
    assertThat(planner.plan("p/fs", vs("#a:1"), null, List.of()))
        .isInstanceOf(FsPlan.UpToDate.class);
  }

  @Test
  void incrementalStepsOnePerSnapshot() {
    var plan = planner.plan("p/fs", vs("@a:1", "@b:2", "#b2:2", "@c:3"), PRESENT, vs("@a:1"));
    assertThat(steps(plan))
        .containsExactly(
            new Step.Incremental(v("@a:1"), v("@b:2"), false),
            new Step.Incremental(v("@b:2"), v("@c:3"), false));
  }

  @Test
  void batchingSendsOneIntermediatesStep() {
    var plan =
        new Planner(InitialPolicy.MOST_RECENT, true)
            .plan("p/fs", vs("@a:1", "@b:2", "@c:3", "@d:4"), PRESENT, vs("@a:1"));
    var s = steps(plan);
    assertThat(s).containsExactly(new Step.Incremental(v("@a:1"), v("@d:4"), true));
    var spec =
        s.getFirst()
            .sendSpec("p/fs", Protection.GUARANTEE_RESUMABILITY, Protection.GUARANTEE_INCREMENTAL);
    assertThat(spec.intermediates()).isTrue();
    assertThat(spec.protection()).isEqualTo(Protection.GUARANTEE_INCREMENTAL);
    // one snapshot to send: a plain -i
    assertThat(
            steps(
                new Planner(InitialPolicy.MOST_RECENT, true)
                    .plan("p/fs", vs("@a:1", "@b:2"), PRESENT, vs("@a:1"))))
        .containsExactly(new Step.Incremental(v("@a:1"), v("@b:2"), false));
  }

  @Test
  void batchingFromABookmarkStartsWithOneIncrement() {
    var plan =
        new Planner(InitialPolicy.MOST_RECENT, true)
            .plan("p/fs", vs("#a:1", "@b:2", "@c:3", "@d:4"), PRESENT, vs("@a:1"));
    assertThat(steps(plan))
        .containsExactly(
            new Step.Incremental(v("#a:1"), v("@b:2"), false),
            new Step.Incremental(v("@b:2"), v("@d:4"), true));
  }

  @Test
  void inSync() {
    var plan = planner.plan("p/fs", vs("@a:1", "@b:2"), PRESENT, vs("@a:1", "@b:2"));
    assertThat(plan).isEqualTo(new FsPlan.UpToDate("in sync at @b(guid 2)", v("@b:2")));
  }

  @Test
  void receiverBookmarksDoNotCauseAConflict() {
    var plan = planner.plan("p/fs", vs("@a:1", "@b:2"), PRESENT, vs("@a:1", "#cursor:5"));
    assertThat(steps(plan)).containsExactly(new Step.Incremental(v("@a:1"), v("@b:2"), false));
  }

  @Test
  void divergedReportNamesBothSides() {
    var plan = planner.plan("p/fs", vs("@a:1", "@b2:3"), PRESENT, vs("@a:1", "@b1:2"));
    var c = (FsPlan.Conflict) plan;
    assertThat(c.kind()).isEqualTo(FsPlan.Conflict.Kind.DIVERGED);
    assertThat(c.report())
        .contains("diverged after the common snapshot @a(guid 1)")
        .contains("receiver has [@b1(guid 2)]")
        .contains("sender has [@b2(guid 3)]")
        .contains("Nothing was destroyed");
  }

  @Test
  void receiverWithNewerSnapshotsIsReportedAsSuch() {
    var c = (FsPlan.Conflict) planner.plan("p/fs", vs("@a:1"), PRESENT, vs("@a:1", "@mine:2"));
    assertThat(c.kind()).isEqualTo(FsPlan.Conflict.Kind.DIVERGED);
    assertThat(c.report())
        .contains("the receiver has snapshots newer than the sender's newest: [@mine(guid 2)]");
  }

  @Test
  void noCommonAncestorWhenTheReceiverHasData() {
    var c = (FsPlan.Conflict) planner.plan("p/fs", vs("@c:3"), PRESENT, vs("@a:1"));
    assertThat(c.kind()).isEqualTo(FsPlan.Conflict.Kind.NO_COMMON_ANCESTOR);
    assertThat(c.report())
        .contains("receiver has [@a(guid 1)]")
        .contains("sender has [@c(guid 3)]");
    var empty = (FsPlan.Conflict) planner.plan("p/fs", vs("@c:3"), PRESENT, List.of());
    assertThat(empty.report()).contains("without any snapshot");
  }

  @Test
  void resumesAnInterruptedIncrementalAndGoesOn() {
    var token = Tokens.token(1, 2, "p/fs@b");
    var plan =
        planner.plan(
            "p/fs", vs("@a:1", "@b:2", "@c:3"), new FsInfo("p/fs", false, token), vs("@a:1"));
    assertThat(steps(plan))
        .containsExactly(
            new Step.Resume(token, v("@a:1"), v("@b:2")),
            new Step.Incremental(v("@b:2"), v("@c:3"), false));
    var s = steps(plan).getFirst();
    assertThat(
            s.sendSpec("p/fs", Protection.GUARANTEE_RESUMABILITY, Protection.GUARANTEE_RESUMABILITY)
                .resumeToken())
        .isEqualTo(token);
    assertThat(s.receiveSpec("p/fs").resuming()).isTrue();
  }

  @Test
  void resumesAnInterruptedFullReceive() {
    var token = Tokens.token(0, 2, "p/fs@b");
    var plan =
        planner.plan(
            "p/fs", vs("@a:1", "@b:2", "@c:3"), new FsInfo("p/fs", false, token), List.of());
    assertThat(steps(plan))
        .containsExactly(
            new Step.Resume(token, null, v("@b:2")),
            new Step.Incremental(v("@b:2"), v("@c:3"), false));
    assertThat(steps(plan).getFirst().initial()).isTrue();
  }

  @Test
  void resumeOfABatchToTheNewestIsTheOnlyStep() {
    var token = Tokens.token(1, 3, "p/fs@c");
    var plan =
        planner.plan(
            "p/fs", vs("@a:1", "@b:2", "@c:3"), new FsInfo("p/fs", false, token), vs("@a:1"));
    assertThat(steps(plan)).containsExactly(new Step.Resume(token, v("@a:1"), v("@c:3")));
  }

  @Test
  void aTokenThatDoesNotFitIsReportedNotDropped() {
    var fromElsewhere = Tokens.token(7, 2, "p/fs@b");
    var c =
        (FsPlan.Conflict)
            planner.plan(
                "p/fs", vs("@a:1", "@b:2"), new FsInfo("p/fs", false, fromElsewhere), vs("@a:1"));
    assertThat(c.kind()).isEqualTo(FsPlan.Conflict.Kind.PARTIAL_RECEIVE);
    assertThat(c.report()).contains("p/fs@b").contains("zfs receive -A");

    var gone = Tokens.token(1, 9, "p/fs@pruned");
    c =
        (FsPlan.Conflict)
            planner.plan("p/fs", vs("@a:1", "@b:2"), new FsInfo("p/fs", false, gone), vs("@a:1"));
    assertThat(c.report()).contains("the sender no longer has p/fs@pruned");

    c =
        (FsPlan.Conflict)
            planner.plan("p/fs", vs("@a:1"), new FsInfo("p/fs", false, "1-garbage"), vs("@a:1"));
    assertThat(c.report()).contains("cannot be decoded");
  }
}
