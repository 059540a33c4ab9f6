package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;
import org.jspecify.annotations.Nullable;

/**
 * Planner invariants over generated histories: the sender took snapshots 1..n, destroyed some
 * (sometimes keeping a bookmark), and the receiver got some of them (or has none, or a placeholder,
 * or snapshots of its own).
 */
class PlannerPropertiesTest {

  /**
   * A generated situation.
   *
   * @param sender the sender's versions
   * @param receiver null: absent
   * @param receiverVersions the receiver's snapshots (own txgs)
   * @param diverged the receiver has a snapshot of its own after the received ones
   */
  record Case(
      List<FsVersion> sender,
      @Nullable FsInfo receiver,
      List<FsVersion> receiverVersions,
      boolean diverged) {}

  private static FsVersion snap(String name, long guid, long txg) {
    return new FsVersion(FsVersion.SNAPSHOT, name, guid, txg, Instant.ofEpochSecond(txg));
  }

  @Provide
  Arbitrary<Case> cases() {
    var n = Arbitraries.integers().between(0, 8);
    // per snapshot: 0 kept, 1 destroyed, 2 destroyed with a bookmark kept, 3 kept with a bookmark
    var fates = Arbitraries.integers().between(0, 3).list().ofSize(8);
    var received = Arbitraries.of(true, false).list().ofSize(8);
    var kind = Arbitraries.integers().between(0, 3); // absent, placeholder, received, empty
    return Combinators.combine(n, fates, received, kind, Arbitraries.of(true, false))
        .as(
            (count, fate, got, k, own) -> {
              var sender = new ArrayList<FsVersion>();
              var recv = new ArrayList<FsVersion>();
              long rtxg = 1000;
              for (int i = 0; i < count; i++) {
                long guid = 0x8000_0000_0000_0000L + i * 31L; // unsigned, large
                long txg = 10 + i;
                var name = "s" + i;
                int f = fate.get(i);
                // the newest snapshot is always kept: a sender never destroys its newest
                if (i == count - 1) {
                  f = 0;
                }
                if (f == 2 || f == 3) {
                  sender.add(
                      new FsVersion(
                          FsVersion.BOOKMARK, name, guid, txg, Instant.ofEpochSecond(txg)));
                }
                if (f == 0 || f == 3) {
                  sender.add(snap(name, guid, txg));
                }
                if (k == 2 && got.get(i)) {
                  recv.add(snap(name, guid, rtxg++));
                }
              }
              boolean diverged = k == 2 && own;
              if (diverged) {
                recv.add(snap("own", 42, rtxg));
              }
              FsInfo info =
                  switch (k) {
                    case 0 -> null;
                    case 1 -> new FsInfo("p/fs", true, "");
                    default -> new FsInfo("p/fs", false, "");
                  };
              return new Case(sender, info, recv, diverged);
            });
  }

  /** Applies the steps like zfs recv would; returns the receiver's snapshots afterwards. */
  private static List<FsVersion> apply(Case c, List<Step> steps) {
    boolean absent = c.receiver() == null || c.receiver().placeholder();
    var have = new ArrayList<FsVersion>(absent ? List.of() : c.receiverVersions());
    for (var s : steps) {
      var from = s.from();
      if (from == null) {
        assertThat(have)
            .as("a full receive needs no existing snapshots (nothing destroyed)")
            .isEmpty();
        have.add(s.to());
      } else {
        assertThat(have).isNotEmpty();
        assertThat(have.getLast().guid())
            .as("the stream's base is the receiver's newest")
            .isEqualTo(from.guid());
        if (s instanceof Step.Incremental i && i.intermediates()) {
          boolean after = false;
          for (var v : c.sender()) {
            if (after && v.isSnapshot() && v.guid() != from.guid()) {
              have.add(v);
            }
            if (v.guid() == from.guid()) {
              after = true;
            }
            if (v.guid() == s.to().guid() && after && v.isSnapshot()) {
              break;
            }
          }
          assertThat(have.getLast()).isEqualTo(s.to());
        } else {
          have.add(s.to());
        }
      }
    }
    return have;
  }

  @Property(tries = 500)
  void applyingThePlanBringsTheSendersNewestSnapshotWithoutDestroyingAnything(
      @ForAll("cases") Case c, @ForAll boolean batch, @ForAll("policies") InitialPolicy policy) {
    var plan =
        new Planner(policy, batch).plan("p/fs", c.sender(), c.receiver(), c.receiverVersions());
    var senderSnaps = c.sender().stream().filter(FsVersion::isSnapshot).toList();
    Statistics.label("plan").collect(plan.getClass().getSimpleName());
    switch (plan) {
      case FsPlan.Steps s -> {
        var after = apply(c, s.steps());
        assertThat(after.getLast().guid()).isEqualTo(senderSnaps.getLast().guid());
        if (c.receiver() != null && !c.receiver().placeholder()) {
          // everything the receiver had is still there, in front
          assertThat(after.subList(0, c.receiverVersions().size())).isEqualTo(c.receiverVersions());
        }
      }
      case FsPlan.UpToDate u -> {
        if (!senderSnaps.isEmpty()) {
          assertThat(c.receiverVersions()).isNotEmpty();
          assertThat(c.receiverVersions().getLast().guid()).isEqualTo(senderSnaps.getLast().guid());
          // the common version is the newest both have
          assertThat(u.common()).isNotNull();
          assertThat(u.common().guid()).isEqualTo(senderSnaps.getLast().guid());
        }
        if (u.common() != null) {
          assertThat(c.sender()).contains(u.common()); // the sender's own entry
        }
      }
      case FsPlan.Conflict k -> {
        assertThat(k.report()).isNotEmpty();
        assertThat(conflictExpected(c, policy)).as(k.report()).isTrue();
      }
    }
  }

  @Property(tries = 500)
  void stepsChainFromTheNewestCommonSnapshot(@ForAll("cases") Case c, @ForAll boolean batch) {
    var plan =
        new Planner(InitialPolicy.ALL, batch)
            .plan("p/fs", c.sender(), c.receiver(), c.receiverVersions());
    if (!(plan instanceof FsPlan.Steps s)) {
      return;
    }
    var steps = s.steps();
    boolean absent = c.receiver() == null || c.receiver().placeholder();
    if (absent || c.receiverVersions().isEmpty()) {
      assertThat(steps.getFirst().from()).isNull();
    } else {
      // the newest common snapshot is the first step's base
      assertThat(steps.getFirst().from()).isNotNull();
      assertThat(steps.getFirst().from().guid()).isEqualTo(c.receiverVersions().getLast().guid());
    }
    for (int i = 1; i < steps.size(); i++) {
      assertThat(steps.get(i).from()).isEqualTo(steps.get(i - 1).to());
      assertThat(steps.get(i).initial()).isFalse();
    }
  }

  @Property(tries = 300)
  void batchingEndsWhereSingleStepsEnd(@ForAll("cases") Case c) {
    var single =
        new Planner(InitialPolicy.MOST_RECENT, false)
            .plan("p/fs", c.sender(), c.receiver(), c.receiverVersions());
    var batched =
        new Planner(InitialPolicy.MOST_RECENT, true)
            .plan("p/fs", c.sender(), c.receiver(), c.receiverVersions());
    assertThat(batched.getClass()).isEqualTo(single.getClass());
    if (single instanceof FsPlan.Steps s && batched instanceof FsPlan.Steps b) {
      assertThat(apply(c, b.steps())).isEqualTo(apply(c, s.steps()));
      assertThat(b.steps().size()).isLessThanOrEqualTo(2);
    }
  }

  @Provide
  Arbitrary<InitialPolicy> policies() {
    return Arbitraries.of(InitialPolicy.class);
  }

  /** A conflict is right only if the receiver diverged, lost the base, or the policy refuses. */
  private static boolean conflictExpected(Case c, InitialPolicy policy) {
    boolean absent = c.receiver() == null || c.receiver().placeholder();
    if (absent) {
      return policy == InitialPolicy.FAIL;
    }
    if (c.diverged() || c.receiverVersions().isEmpty()) {
      return true;
    }
    long newest = c.receiverVersions().getLast().guid();
    return c.sender().stream().noneMatch(v -> v.guid() == newest);
  }
}
