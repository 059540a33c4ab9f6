package dev.zrepl4j.cli;

import dev.zrepl4j.daemon.Control;
import dev.zrepl4j.daemon.Transfer;
import dev.zrepl4j.replication.VerifyReport;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code zrepl4j verify --job J [--sample N] [--json]}: asks the running daemon to compare job J's
 * received copies with the sender (guid and size of every snapshot; the content of {@code N}
 * snapshots per filesystem; nothing changed on either side). Exit status 0 when they match, 3 when
 * something does not (each problem printed), 1 when the check could not run.
 */
@Command(
    name = "verify",
    description =
        "Compare a push or pull job's received copies with the sender: every snapshot by guid and"
            + " size, a sample by content. Exit 0: they match; 3: they do not; 1: could not check.")
final class VerifyCommand implements Callable<Integer> {
  /** The exit status when the copies do not match. */
  static final int MISMATCH = 3;

  @Mixin ConfigOption config = new ConfigOption();

  @Option(names = "--job", required = true, paramLabel = "JOB")
  String job = "";

  @Option(
      names = "--sample",
      paramLabel = "N",
      description =
          "Snapshots per filesystem whose content is compared: the newest and N-1 more at random"
              + " (0: guid and size only; at most 64). Default: ${DEFAULT-VALUE}.")
  int sample = 1;

  @Option(names = "--json", description = "Print the report as JSON (snake_case keys).")
  boolean json;

  @Override
  public Integer call() throws Exception {
    var r =
        ControlClient.call(
            config.load(), "verify", new Control.VerifyRequest(job, sample), VerifyReport.class);
    if (json) {
      System.out.println(StatusCommand.JsonOut.MAPPER.writeValueAsString(r));
    } else {
      lines(r).forEach(System.out::println);
    }
    return r.ok() ? 0 : MISMATCH;
  }

  /** The report as text: a summary, each problem, each note, the verdict. */
  static List<String> lines(VerifyReport r) {
    var out = new ArrayList<String>();
    out.add(
        "verify "
            + r.job()
            + ": "
            + r.filesystems()
            + " filesystems, "
            + r.snapshots()
            + " snapshots compared with the sender, "
            + r.contentChecked()
            + " of them by content ("
            + Transfer.bytes(r.contentBytes())
            + " read on each side), "
            + r.unchecked()
            + " no longer on the sender");
    for (var p : r.problems()) {
      out.add("problem: " + p.filesystem() + ": " + p.kind() + ": " + p.message());
    }
    for (var n : r.notes()) {
      out.add("note: " + n);
    }
    out.add(
        r.ok()
            ? "ok: the copies match the sender"
            : r.problems().size() + " problem(s): the copies do not match the sender");
    return out;
  }
}
