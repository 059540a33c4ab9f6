package dev.zrepl4j.zfs;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/** Fast set-up of many datasets: {@code zfs create} in parallel batches of shell loops. */
public final class FuseFixtures {
  private FuseFixtures() {}

  public static void createFilesystems(Collection<DatasetPath> filesystems) throws IOException {
    var names = filesystems.stream().map(DatasetPath::toString).toList();
    int parallel = 4;
    var futures = new ArrayList<Future<?>>();
    try (var ex = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int t = 0; t < parallel; t++) {
        var mine = new ArrayList<String>();
        for (int i = t; i < names.size(); i += parallel) {
          mine.add(names.get(i));
        }
        futures.add(
            ex.submit(
                () -> {
                  var argv =
                      new ArrayList<>(
                          List.of(
                              "sh",
                              "-c",
                              "for d in \"$@\"; do zfs create -o mountpoint=none \"$d\" || exit 1; done",
                              "sh"));
                  argv.addAll(mine);
                  var p = new ProcessBuilder(argv).redirectErrorStream(true).start();
                  var out = new String(p.getInputStream().readAllBytes());
                  if (p.waitFor() != 0) {
                    throw new IOException("zfs create failed: " + out);
                  }
                  return null;
                }));
      }
      for (var f : futures) {
        try {
          f.get();
        } catch (java.util.concurrent.ExecutionException e) {
          throw new IOException(e.getCause());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new java.io.InterruptedIOException();
        }
      }
    }
  }
}
