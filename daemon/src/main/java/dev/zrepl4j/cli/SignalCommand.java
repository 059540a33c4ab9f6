package dev.zrepl4j.cli;

import dev.zrepl4j.daemon.Control;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code zrepl4j signal wakeup|reset JOB}. */
@Command(
    name = "signal",
    description =
        "wakeup: run the job now (replication and pruning); reset: abort its current run.")
final class SignalCommand implements Callable<Integer> {
  @Mixin ConfigOption config = new ConfigOption();

  @Parameters(index = "0", paramLabel = "SIGNAL", description = "wakeup or reset")
  String signal = "";

  @Parameters(index = "1", paramLabel = "JOB")
  String job = "";

  @Override
  public Integer call() throws Exception {
    if (!signal.equals("wakeup") && !signal.equals("reset")) {
      System.err.println("unknown signal '" + signal + "': use wakeup or reset");
      return 2;
    }
    var r =
        ControlClient.call(
            config.load(), "signal", new Control.SignalRequest(job, signal), Control.Lines.class);
    r.lines().forEach(System.out::println);
    return 0;
  }
}
