package dev.zrepl4j.cli;

import dev.zrepl4j.config.ConfigException;
import dev.zrepl4j.config.ConfigParser;
import dev.zrepl4j.config.DaemonConfig;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Option;

/** The {@code --config FILE} option shared by the commands that read the config. */
final class ConfigOption {
  @Option(
      names = {"-c", "--config"},
      paramLabel = "FILE",
      description =
          "The config file (default: /etc/zrepl4j/zrepl.yml, then /etc/zrepl/zrepl.yml, then"
              + " /usr/local/etc/zrepl/zrepl.yml).")
  @Nullable Path file;

  Path path() {
    if (file != null) {
      return file;
    }
    return ConfigParser.defaultPath()
        .orElseThrow(
            () ->
                new IllegalArgumentException(
                    "no config file: none of "
                        + ConfigParser.DEFAULT_PATHS
                        + " exists; give one with --config FILE"));
  }

  /** Parses the config; every problem in the exception. */
  DaemonConfig load() throws ConfigException {
    return ConfigParser.parse(path());
  }
}
