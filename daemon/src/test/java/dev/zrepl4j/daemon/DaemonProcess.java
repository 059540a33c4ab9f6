package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.zrepl4j.rpc.RpcClient;
import dev.zrepl4j.rpc.RpcOptions;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A real {@code zrepl4j daemon} process (the shaded jar built in {@code package}, run by the same
 * JDK as the test), its log in a file, its control socket read directly by the test.
 */
final class DaemonProcess implements AutoCloseable {
  static final Path JAR = Path.of("target/zrepl4j.jar").toAbsolutePath();

  final Path config;
  final Path log;
  final Path controlSocket;
  private final Map<String, String> env;
  private final boolean globalOption;
  private Process process;

  private DaemonProcess(
      Path config,
      Path log,
      Path controlSocket,
      Map<String, String> env,
      boolean globalOption,
      Process process) {
    this.config = config;
    this.log = log;
    this.controlSocket = controlSocket;
    this.env = env;
    this.globalOption = globalOption;
    this.process = process;
  }

  static String java() {
    return ProcessHandle.current().info().command().orElse("java");
  }

  /** The command line of {@code zrepl4j ARGS}. */
  static List<String> command(String... args) {
    if (!Files.exists(JAR)) {
      fail(JAR + " is missing: integration tests run after `package` (mvn verify)");
    }
    var l = new ArrayList<>(List.of(java(), "-jar", JAR.toString()));
    l.addAll(List.of(args));
    return l;
  }

  /** Writes {@code yaml} to {@code dir/name.yml} and starts a daemon on it. */
  static DaemonProcess start(Path dir, String name, String yaml, Path controlSocket)
      throws IOException {
    return start(dir, name, yaml, controlSocket, Map.of());
  }

  /** Like {@link #start(Path, String, String, Path)}, with extra environment variables. */
  static DaemonProcess start(
      Path dir, String name, String yaml, Path controlSocket, Map<String, String> env)
      throws IOException {
    return start(dir, name, yaml, controlSocket, env, false);
  }

  /**
   * Like {@link #start(Path, String, String, Path)}, started as zrepl's systemd unit writes it:
   * {@code zrepl4j --config FILE daemon}.
   */
  static DaemonProcess startWithGlobalConfig(Path dir, String name, String yaml, Path sock)
      throws IOException {
    return start(dir, name, yaml, sock, Map.of(), true);
  }

  private static DaemonProcess start(
      Path dir,
      String name,
      String yaml,
      Path controlSocket,
      Map<String, String> env,
      boolean globalOption)
      throws IOException {
    var config = dir.resolve(name + ".yml");
    Files.writeString(config, yaml);
    var log = dir.resolve(name + ".log");
    var d =
        new DaemonProcess(
            config, log, controlSocket, env, globalOption, spawn(config, log, env, globalOption));
    d.awaitControlSocket();
    return d;
  }

  private static Process spawn(Path config, Path log, Map<String, String> env, boolean globalOption)
      throws IOException {
    var pb =
        new ProcessBuilder(
                globalOption
                    ? command("--config", config.toString(), "daemon")
                    : command("daemon", "--config", config.toString()))
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    pb.environment().putAll(env);
    return pb.start();
  }

  /** Starts the same daemon again (after {@link #terminate()}). */
  void restart() throws IOException {
    process = spawn(config, log, env, globalOption);
    awaitControlSocket();
  }

  /**
   * Waits until the daemon answers on its control socket (within 300 s: on a loaded machine daemons
   * took more than 90 to start, on zfs-fuse and on the guest); a daemon that does not is killed, so
   * that no failed start leaves one behind.
   */
  private void awaitControlSocket() throws IOException {
    try {
      awaitAnswer();
    } catch (AssertionError | IOException | RuntimeException e) {
      process.destroyForcibly();
      throw e;
    }
  }

  private void awaitAnswer() throws IOException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        fail("daemon exited with " + process.exitValue() + ":\n" + logText());
      }
      if (Files.exists(controlSocket)) {
        // the file alone may be a stale one of an earlier run: it must answer
        try {
          rawStatus();
          return;
        } catch (IOException e) {
          // not yet
        }
      }
      sleep(100);
    }
    fail("daemon did not open its control socket " + controlSocket + ":\n" + logText());
  }

  String logText() {
    try {
      return Files.readString(log, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  /** The status over the control socket; fails with the daemon's log if it cannot be read. */
  private Control.StatusResponse rawStatus() throws IOException {
    try (var c = RpcClient.unix(controlSocket, RpcOptions.defaults())) {
      return c.call("control.status", new Control.StatusRequest(""), Control.StatusResponse.class);
    }
  }

  /** The status; fails with the daemon's log when its control socket cannot be read. */
  Control.StatusResponse status() throws IOException {
    try {
      return rawStatus();
    } catch (IOException e) {
      throw new AssertionError(
          "status of "
              + config
              + (process.isAlive() ? "" : " (daemon exited with " + process.exitValue() + ")")
              + ": "
              + e
              + "\nlog:\n"
              + logText(),
          e);
    }
  }

  /**
   * {@code signal SIGNAL JOB} straight over the control socket (what {@code zrepl4j signal} sends,
   * without starting a JVM for it).
   */
  void signal(String job, String signal) throws IOException {
    try (var c = RpcClient.unix(controlSocket, RpcOptions.defaults())) {
      c.call("control.signal", new Control.SignalRequest(job, signal), Control.Lines.class);
    }
  }

  JobStatus job(String name) throws IOException {
    return status().jobs().stream()
        .filter(j -> j.name().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no job " + name));
  }

  /** Waits until the job's status satisfies {@code condition}; fails with the log otherwise. */
  JobStatus await(String job, Duration timeout, Predicate<JobStatus> condition) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    JobStatus s = job(job);
    while (!condition.test(s)) {
      if (System.nanoTime() > deadline) {
        fail("job " + job + " did not get there; last status " + s + "\nlog:\n" + logText());
      }
      sleep(100);
      s = job(job);
    }
    return s;
  }

  /** Waits for {@code n} completed runs of {@code job}; returns the status. */
  JobStatus awaitRuns(String job, long n) throws IOException {
    return await(job, Duration.ofSeconds(90), s -> s.runs() >= n);
  }

  /** Runs {@code zrepl4j ARGS --config <this config>} and returns its stdout; asserts exit 0. */
  String cli(String... args) throws IOException {
    var l = new ArrayList<>(List.of(args));
    l.add("--config");
    l.add(config.toString());
    var r = run(l.toArray(String[]::new));
    assertThat(r.exit()).as("zrepl4j %s: %s", l, r.err()).isZero();
    return r.out();
  }

  record Result(int exit, String out, String err) {}

  /** Runs {@code zrepl4j ARGS}. */
  static Result run(String... args) throws IOException {
    return run(Map.of(), args);
  }

  /** Runs {@code zrepl4j ARGS} with extra environment variables. */
  static Result run(Map<String, String> env, String... args) throws IOException {
    var pb = new ProcessBuilder(command(args));
    pb.environment().putAll(env);
    var p = pb.start();
    var err = new StringBuilder();
    var t =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    err.append(
                        new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
                  } catch (IOException e) {
                    err.append(e);
                  }
                });
    var out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        fail("zrepl4j " + List.of(args) + " did not finish");
      }
      t.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException();
    }
    return new Result(p.exitValue(), out, err.toString());
  }

  /** SIGTERM, then waits for the exit; returns the exit status. */
  int terminate() {
    process.destroy();
    try {
      if (!process.waitFor(40, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        fail("daemon did not exit within 40 s of SIGTERM:\n" + logText());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return process.exitValue();
  }

  /** The daemon's process id. */
  long pid() {
    return process.pid();
  }

  boolean alive() {
    return process.isAlive();
  }

  /** SIGKILL ({@code kill -9}): no shutdown, no clean-up; waits for the exit. */
  void kill9() {
    process.destroyForcibly();
    try {
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        fail("daemon did not die within 30 s of SIGKILL");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  /** The daemon's process (its children are its {@code zfs} commands). */
  ProcessHandle handle() {
    return process.toHandle();
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      terminate();
    }
  }
}
