package dev.zrepl4j.rpc.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.rpc.RpcClient;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import java.io.IOException;
import org.junit.jupiter.api.Test;

class LocalListenersTest {
  @Test
  void callsTheRegisteredServerAsTheClientIdentity() throws Exception {
    var listeners = new LocalListeners();
    try (var server = new RpcServer(RpcOptions.defaults()).register("t", new Api());
        var reg = listeners.register("backup", server);
        RpcClient c = listeners.dial("backup", "laptop")) {
      assertThat(c.call("t.who", new Api.Req("x", 2), Api.Resp.class))
          .isEqualTo(new Api.Resp("hi x", "laptop", 2));
    }
  }

  @Test
  void anUnknownNameIsAnIoException() {
    var listeners = new LocalListeners();
    assertThatThrownBy(() -> listeners.dial("nope", "laptop"))
        .isInstanceOf(IOException.class)
        .hasMessage("no local listener 'nope' (is the sink/source job in this daemon?)");
  }

  @Test
  void aDuplicateNameIsRefusedUntilTheFirstIsClosed() throws Exception {
    var listeners = new LocalListeners();
    try (var a = new RpcServer(RpcOptions.defaults());
        var b = new RpcServer(RpcOptions.defaults())) {
      var reg = listeners.register("backup", a);
      assertThatThrownBy(() -> listeners.register("backup", b))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("'backup'");
      reg.close();
      listeners.register("backup", b).close();
      assertThatThrownBy(() -> listeners.dial("backup", "x")).isInstanceOf(IOException.class);
    }
  }

  @Test
  void anInvalidClientIdentityIsRefused() throws Exception {
    var listeners = new LocalListeners();
    try (var a = new RpcServer(RpcOptions.defaults());
        var reg = listeners.register("backup", a)) {
      assertThatThrownBy(() -> listeners.dial("backup", "a/b"))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }
}
