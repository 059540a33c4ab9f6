package dev.zrepl4j.rpc.transport;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.nio.file.Path;

/**
 * The forced command of the ssh test's authorized_keys ({@code StdinserverMain SOCKDIR ID}): the
 * test stand-in for {@code zrepl4j stdinserver ID}.
 */
public final class StdinserverMain {
  private StdinserverMain() {}

  public static void main(String[] args) {
    int status =
        Stdinserver.relay(
            Path.of(args[0]),
            args[1],
            new FileInputStream(FileDescriptor.in),
            new FileOutputStream(FileDescriptor.out));
    System.exit(status);
  }
}
