package dev.zrepl4j.rpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.rpc.TestApi.Req;
import dev.zrepl4j.rpc.TestApi.Resp;
import java.io.InputStream;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Every kind of call over every transport, with protocol version 1 negotiated. */
class RoundTripTest {

  @ParameterizedTest
  @EnumSource(Fixture.Kind.class)
  void theConnectionHookSeesEachConnectionsCallerOnceBeforeItsCalls(Fixture.Kind kind)
      throws Exception {
    var seen = new java.util.concurrent.CopyOnWriteArrayList<String>();
    try (var f = new Fixture(kind, RpcOptions.defaults(), c -> seen.add(c.identity())); ) {
      Resp r = f.client.call("t.hello", new Req("anna", 7), Resp.class);
      f.client.call("t.hello", new Req("bert", 1), Resp.class);
      assertThat(seen).containsExactly(r.identity());
    }
  }

  @ParameterizedTest
  @EnumSource(Fixture.Kind.class)
  void jsonCallsReachTheEndpointWithTheCallersIdentity(Fixture.Kind kind) throws Exception {
    try (var f = new Fixture(kind)) {
      assertThat(f.client.extensions()).isTrue();
      Resp r = f.client.call("t.hello", new Req("anna", 7), Resp.class);
      assertThat(r.text()).isEqualTo("hi anna");
      assertThat(r.count()).isEqualTo(7);
      assertThat(r.identity())
          .isEqualTo(
              switch (kind) {
                case TCP -> "client-127.0.0.1";
                case UNIX -> "unix-client";
                case STREAMS -> "ssh-client";
                case LOCAL -> "local-client";
              });
    }
  }

  @ParameterizedTest
  @EnumSource(Fixture.Kind.class)
  void typedProxyCallsWithoutStubs(Fixture.Kind kind) throws Exception {
    try (var f = new Fixture(kind)) {
      TestApi.Client api = f.client.proxy("t", TestApi.Client.class);
      assertThat(api.list(new Req("x", 3)))
          .containsExactly(new Req("x0", 0), new Req("x1", 1), new Req("x2", 2));
      assertThat(api.greet(new Req("bo", 1)).text()).isEqualTo("hi bo");
      api.nothing(new Req("", 0));
      try (InputStream in = api.bytes(new Req("", 100_000))) {
        assertThat(TestApi.checkPattern(in)).isEqualTo(100_000);
      }
      Resp up = api.upload(new Req("u", 0), TestApi.patternStream(3_000_000, Long.MAX_VALUE));
      assertThat(up.count()).isEqualTo(3_000_000);
      assertThat(api.toString()).contains("Client");
    }
  }

  @ParameterizedTest
  @EnumSource(Fixture.Kind.class)
  void streamsOfAnySizeArriveIntactIncludingMultiplesOfFourMiB(Fixture.Kind kind) throws Exception {
    try (var f = new Fixture(kind)) {
      for (int n : new int[] {0, 1, 65_536, 4 * 1024 * 1024, 8 * 1024 * 1024 + 3}) {
        try (InputStream in = f.client.callStream("t.bytes", new Req("", n))) {
          assertThat(TestApi.checkPattern(in)).as("n=%d", n).isEqualTo(n);
        }
        try (InputStream in = f.client.callStream("t.write", new Req("", n))) {
          assertThat(TestApi.checkPattern(in)).as("write n=%d", n).isEqualTo(n);
        }
      }
      Resp up =
          f.client.callWithBody(
              "t.upload",
              new Req("big", 0),
              TestApi.patternStream(9_000_001, Long.MAX_VALUE),
              Resp.class);
      assertThat(up.count()).isEqualTo(9_000_001);
      Object only =
          f.client.call(
              "t.uploadOnly", null, TestApi.patternStream(12_345, Long.MAX_VALUE), Resp.class);
      assertThat(((Resp) only).count()).isEqualTo(12_345);
    }
  }

  @ParameterizedTest
  @EnumSource(Fixture.Kind.class)
  void aStreamThatFailsMidwaySurfacesTheServersMessageAndTheConnectionStaysUsable(Fixture.Kind kind)
      throws Exception {
    try (var f = new Fixture(kind)) {
      f.assertFailsMidwayAndStaysUsable("t.failing", TestApi::checkPattern);
    }
  }

  @ParameterizedTest
  @EnumSource(Fixture.Kind.class)
  void handlerErrorsCarryCodeAndMessage(Fixture.Kind kind) throws Exception {
    try (var f = new Fixture(kind)) {
      assertThatThrownBy(() -> f.client.call("t.invalid", new Req("x/y", 0), Resp.class))
          .isInstanceOfSatisfying(
              RemoteException.class,
              e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
          .hasMessage("bad name x/y");
      assertThatThrownBy(() -> f.client.call("t.missing", new Req("tank", 0), Resp.class))
          .isInstanceOfSatisfying(
              RemoteException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND))
          .hasMessage("no such dataset tank");
      assertThatThrownBy(() -> f.client.call("t.nope", new Req("", 0), Resp.class))
          .isInstanceOfSatisfying(
              RemoteException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND))
          .hasMessage("unregistered endpoint t.nope");
      assertThatThrownBy(() -> f.client.callStream("t.hello", new Req("", 0)))
          .isInstanceOf(RemoteException.class)
          .hasMessageContaining("wrong Accept for endpoint t.hello");
      // the failing upload: the server answers early, the client stops sending
      assertThatThrownBy(
              () ->
                  f.client.callWithBody(
                      "t.uploadFailing",
                      new Req("", 1000),
                      TestApi.patternStream(200_000_000, Long.MAX_VALUE),
                      Resp.class))
          .isInstanceOf(RemoteException.class)
          .hasMessage("zfs recv: cannot receive: destination modified");
      assertThat(f.client.call("t.hello", new Req("still", 1), Resp.class).text())
          .isEqualTo("hi still");
    }
  }

  @ParameterizedTest
  @EnumSource(
      value = Fixture.Kind.class,
      names = {"TCP", "LOCAL"})
  void genericResponsesDecodeThroughTheProxy(Fixture.Kind kind) throws Exception {
    try (var f = new Fixture(kind)) {
      List<Req> l = f.client.proxy("t", TestApi.Client.class).list(new Req("n", 2));
      assertThat(l.get(1)).isInstanceOf(Req.class).isEqualTo(new Req("n1", 1));
    }
  }
}
