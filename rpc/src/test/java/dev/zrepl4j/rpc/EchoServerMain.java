package dev.zrepl4j.rpc;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Optional;

/**
 * A TCP server of {@link SeedEndpoints} on a free loopback port, printed as {@code port N} on
 * stdout; runs until killed. Started as a child process by {@link AcceptLoopTest}.
 */
public final class EchoServerMain {
  private EchoServerMain() {}

  public static void main(String[] args) throws Exception {
    var server = new RpcServer(RpcOptions.defaults()).register(new SeedEndpoints());
    var l =
        server.listenTcp(
            new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), a -> Optional.of("c"));
    System.out.println("port " + l.port());
    System.out.flush();
    Thread.sleep(Long.MAX_VALUE);
  }
}
