package dev.zrepl4j.cli;

import dev.zrepl4j.rpc.transport.Stdinserver;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/**
 * {@code zrepl4j stdinserver ID}: the forced command of an ssh authorized key ({@code
 * command="zrepl4j stdinserver ID",restrict ...}); relays this process's stdin and stdout to the
 * daemon's stdinserver socket for client identity ID.
 */
@Command(
    name = "stdinserver",
    description = "Relay stdin/stdout to the daemon (the forced command of an ssh key).")
final class StdinserverCommand implements Callable<Integer> {
  @Mixin ConfigOption config = new ConfigOption();

  @Parameters(index = "0", paramLabel = "ID", description = "The client identity.")
  String identity = "";

  @Override
  public Integer call() throws Exception {
    var sockdir = config.load().global().stdinserverSockdir();
    return Stdinserver.relay(sockdir, identity, System.in, System.out);
  }
}
