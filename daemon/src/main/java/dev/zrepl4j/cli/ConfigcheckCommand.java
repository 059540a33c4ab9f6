package dev.zrepl4j.cli;

import dev.zrepl4j.config.ConfigException;
import dev.zrepl4j.config.ConfigParser;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code zrepl4j configcheck}: parses and checks the config, printing every problem. */
@Command(
    name = "configcheck",
    description = "Check the configuration file: print every problem, or a summary of the jobs.")
public final class ConfigcheckCommand implements Callable<Integer> {

  @Spec @Nullable CommandSpec spec;

  @Option(
      names = "--config",
      paramLabel = "FILE",
      description =
          "The config file (default: the first of /etc/zrepl4j/zrepl.yml, /etc/zrepl/zrepl.yml,"
              + " /usr/local/etc/zrepl/zrepl.yml that exists). May also be given before the"
              + " subcommand.")
  @Nullable Path config;

  /** zrepl's {@code --format}: print the parsed config. */
  enum Format {
    pretty,
    yaml,
    json
  }

  @Option(
      names = "--format",
      paramLabel = "FORMAT",
      description =
          "Print the parsed config (defaults filled in) instead of the summary: pretty (one"
              + " object per line), yaml or json.")
  @Nullable Format format;

  @Option(
      names = "--skip-cert-check",
      description = "Do not check that the TLS ca, cert and key files exist and hold PEM blocks.")
  boolean skipCertCheck;

  @Override
  public Integer call() throws Exception {
    var cl = Objects.requireNonNull(spec).commandLine();
    var out = cl.getOut();
    var err = cl.getErr();
    Optional<Path> file;
    try {
      file = ConfigOption.given(Objects.requireNonNull(spec), config).or(ConfigParser::defaultPath);
    } catch (IllegalArgumentException e) {
      err.println("configcheck: " + e.getMessage());
      err.flush();
      return 1;
    }
    if (file.isEmpty()) {
      err.println(
          "configcheck: no config file: none of "
              + ConfigParser.DEFAULT_PATHS.stream()
                  .map(Path::toString)
                  .collect(Collectors.joining(", "))
              + " exists; use --config FILE");
      err.flush();
      return 1;
    }
    try {
      var c = ConfigParser.parse(file.get(), !skipCertCheck);
      if (format != null) {
        out.print(ConfigDump.dump(c, format));
        out.flush();
        return 0;
      }
      out.println(
          file.get()
              + ": ok, "
              + c.jobs().size()
              + (c.jobs().size() == 1 ? " job" : " jobs")
              + (c.jobs().isEmpty() ? "" : ": ")
              + c.jobs().stream()
                  .map(j -> j.name() + " (" + j.type() + ")")
                  .collect(Collectors.joining(", ")));
      out.flush();
      return 0;
    } catch (ConfigException e) {
      for (var p : e.problems()) {
        err.println(p);
      }
      err.flush();
      return 1;
    }
  }
}
