package dev.zrepl4j.replication.pruning;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.rpc.RpcClient;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import dev.zrepl4j.zfs.FilesystemVersion;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import net.jqwik.api.AfterFailureMode;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

/** {@link PruneRuleSpec}: validation, the spec ↔ rule round trip, and its JSON over the RPC. */
class PruneRuleSpecTest {

  @Provide
  Arbitrary<PruneRule> rules() {
    var regex =
        Arbitraries.of("", "^zrepl_", "manual", "^nomatch$", "a|b", "[0-9]{2}$", "<&>", "é.*")
            .map(Pattern::compile);
    var grid =
        Arbitraries.integers()
            .between(0, Integer.MAX_VALUE)
            .list()
            .ofMinSize(1)
            .ofMaxSize(4)
            .map(PruneRuleSpecTest::grid);
    return Arbitraries.oneOf(
        Arbitraries.of(true, false).map(PruneRule.NotReplicated::new),
        Combinators.combine(Arbitraries.integers().between(0, 100), regex).as(PruneRule.LastN::new),
        Combinators.combine(grid, regex).as(PruneRule.Grid::new),
        Combinators.combine(regex, Arbitraries.of(true, false)).as(PruneRule.Regex::new));
  }

  /** Each int decodes into a term: repetitions, a length (seconds, w/d/h/m multiples), a keep. */
  static RetentionGrid grid(List<Integer> seeds) {
    long[] units = {1, 60, 3600, 86_400, 7 * 86_400};
    var lengths = new ArrayList<Long>();
    for (int x : seeds) {
      lengths.add((1 + (x / 7) % 90) * units[(x / 7 / 90) % units.length]);
    }
    lengths.sort(null);
    var out = new ArrayList<RetentionGrid.Interval>();
    for (int i = 0; i < seeds.size(); i++) {
      int x = seeds.get(i);
      int keep = (x / 7 / 90 / units.length) % 5 - 1;
      for (int j = 0; j <= x % 7; j++) {
        out.add(new RetentionGrid.Interval(Duration.ofSeconds(lengths.get(i)), keep));
      }
    }
    return new RetentionGrid(out);
  }

  @Property(afterFailure = AfterFailureMode.RANDOM_SEED)
  void specToRuleToSpecIsTheIdentity(
      @ForAll("rules") PruneRule rule, @ForAll("snapshots") List<FilesystemVersion> vs) {
    var spec = rule.spec();
    var back = spec.toRule();
    assertThat(back.spec()).isEqualTo(spec);
    assertThat(back.describe()).isEqualTo(rule.describe());
    assertThat(back.keep(vs, PruneContext.NONE))
        .as("the rule from the spec keeps what the original keeps")
        .isEqualTo(rule.keep(vs, PruneContext.NONE));
    if (rule instanceof PruneRule.Grid g && back instanceof PruneRule.Grid h) {
      assertThat(h.grid()).isEqualTo(g.grid());
    }
  }

  @Provide
  Arbitrary<List<FilesystemVersion>> snapshots() {
    return new PrunerPropertiesTest().snapshots();
  }

  @Test
  void canonicalSpecsSurviveTheRoundTripVerbatim() {
    for (var spec :
        List.of(
            PruneRuleSpec.notReplicated(true),
            PruneRuleSpec.lastN(3, ""),
            PruneRuleSpec.lastN(0, "^zrepl_"),
            PruneRuleSpec.grid("1x1h(keep=all) | 24x1h | 14x1d", "^zrepl_"),
            PruneRuleSpec.grid("6x10m(keep=0) | 1x90m | 3x1w(keep=2)", ""),
            PruneRuleSpec.regex("^manual", true))) {
      assertThat(spec.toRule().spec()).isEqualTo(spec);
    }
    // a non-canonical grid comes back in canonical form, meaning the same grid
    var loose = PruneRuleSpec.grid(" 1 x 1h | 2x60m (keep = 1) | 1x1d", "");
    assertThat(loose.toRule().spec().grid()).isEqualTo("3x1h | 1x1d");
  }

  @Test
  void invalidSpecsAreRefusedNamingTheRule() {
    assertThatThrownBy(() -> new PruneRuleSpec("keep_all", false, 0, "", "", false).toRule())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unknown prune rule type 'keep_all'");
    assertThatThrownBy(() -> PruneRuleSpec.lastN(-1, "").toRule())
        .hasMessage("prune rule last_n: count must be >= 0, got -1");
    assertThatThrownBy(() -> PruneRuleSpec.regex("(unclosed", false).toRule())
        .hasMessageStartingWith("prune rule regex: invalid regex '(unclosed'");
    assertThatThrownBy(() -> PruneRuleSpec.grid("1x1h | 1x10m", "").toRule())
        .hasMessageStartingWith("prune rule grid: ")
        .hasMessageContaining("monotonically");
    assertThatThrownBy(() -> PruneRuleSpec.grid("", "").toRule())
        .hasMessage("prune rule grid: grid is required");
    assertThatThrownBy(() -> new PruneRuleSpec("last_n", false, 2, "", "", true).toRule())
        .hasMessage("prune rule last_n: negate is not a field of this rule");
    assertThatThrownBy(() -> new PruneRuleSpec("not_replicated", true, 1, "", "", false).toRule())
        .hasMessage("prune rule not_replicated: count is not a field of this rule");
    var request =
        new PruneRequest(
            List.of(PruneRuleSpec.notReplicated(true), PruneRuleSpec.lastN(-2, "")), false);
    assertThatThrownBy(request::toRules)
        .hasMessage("rules[1]: prune rule last_n: count must be >= 0, got -2");
  }

  @Test
  void subSecondGridIntervalsAreRefused() {
    assertThatThrownBy(() -> new RetentionGrid.Interval(Duration.ofMillis(1500), 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("whole seconds");
  }

  /** What the endpoints' prune looks like on the wire, echoed. */
  public interface Echo {
    PruneRequest request(PruneRequest r) throws IOException;

    PruneResult result(PruneRequest r) throws IOException;
  }

  /** The server side of {@link Echo}. */
  public static final class EchoEndpoint {
    public PruneRequest request(PruneRequest r) {
      return r;
    }

    public PruneResult result(PruneRequest r) {
      var lines = new ArrayList<String>();
      for (var s : r.rules()) {
        lines.add(s.type() + " <&> " + s.regex());
      }
      return new PruneResult(lines, r.rules().size(), List.of("x@y: \"failed\"\n"));
    }
  }

  @Test
  void requestsAndResultsTravelAsJsonOverTcp() throws Exception {
    var specs = new ArrayList<PruneRuleSpec>();
    for (var r :
        List.of(
            new PruneRule.NotReplicated(false),
            new PruneRule.LastN(7, Pattern.compile("^zrepl_.*<&>\\d+$")),
            new PruneRule.Grid(
                RetentionGrid.parse("1x1h(keep=all) | 24x1h | 14x1d"), Pattern.compile("")),
            new PruneRule.Regex(Pattern.compile("é|\u2028"), true))) {
      specs.add(r.spec());
    }
    var request = new PruneRequest(specs, true);
    try (var server = new RpcServer(RpcOptions.defaults())) {
      server.register("echo", new EchoEndpoint());
      try (var l =
              server.listenTcp(new InetSocketAddress("127.0.0.1", 0), a -> Optional.of("client"));
          var client =
              RpcClient.tcp("127.0.0.1", l.port(), Duration.ofSeconds(5), RpcOptions.defaults())) {
        var echo = client.proxy("echo", Echo.class);
        var back = echo.request(request);
        assertThat(back).isEqualTo(request);
        assertThat(PruneRequest.of(back.toRules(), true)).isEqualTo(request);
        var result = echo.result(request);
        assertThat(result.destroyed()).isEqualTo(4);
        assertThat(result.lines()).hasSize(4).contains("last_n <&> ^zrepl_.*<&>\\d+$");
        assertThat(result.failures()).containsExactly("x@y: \"failed\"\n");
      }
    }
  }
}
