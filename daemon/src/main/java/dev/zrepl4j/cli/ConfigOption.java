package dev.zrepl4j.cli;

import dev.zrepl4j.config.ConfigException;
import dev.zrepl4j.config.ConfigParser;
import dev.zrepl4j.config.DaemonConfig;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The {@code --config FILE} option shared by the commands that read the config. It may also be
 * given before the subcommand, as zrepl writes it ({@code zrepl4j --config F daemon}); given in
 * both places it must name the same file.
 */
final class ConfigOption {
  @Spec(Spec.Target.MIXEE)
  @Nullable CommandSpec mixee;

  @Option(
      names = {"-c", "--config"},
      paramLabel = "FILE",
      description =
          "The config file (default: /etc/zrepl4j/zrepl.yml, then /etc/zrepl/zrepl.yml, then"
              + " /usr/local/etc/zrepl/zrepl.yml). May also be given before the subcommand.")
  @Nullable Path file;

  /**
   * Set by {@link QuickCommands} (which parses without picocli, so there is no {@link #mixee}): the
   * file given anywhere on the command line, {@code null} for the default.
   */
  private boolean parsedByHand;

  /** An option for {@link QuickCommands}: {@code given} is the file named on the command line. */
  static ConfigOption byHand(@Nullable Path given) {
    var o = new ConfigOption();
    o.file = given;
    o.parsedByHand = true;
    return o;
  }

  /** The file given before or after the subcommand, if any. */
  Optional<Path> given() {
    if (parsedByHand) {
      return Optional.ofNullable(file);
    }
    return given(Objects.requireNonNull(mixee), file);
  }

  /**
   * The config file given to {@code spec}'s command ({@code local}) or before it, to the {@code
   * zrepl4j} command itself.
   *
   * @throws IllegalArgumentException if both are given and name different files
   */
  static Optional<Path> given(CommandSpec spec, @Nullable Path local) {
    Path global = spec.root().userObject() instanceof Main m ? m.config : null;
    if (differ(global, local)) {
      throw new IllegalArgumentException(
          "--config given twice with different files: "
              + global
              + " before the subcommand, "
              + local
              + " after it; give it once");
    }
    return Optional.ofNullable(local != null ? local : global);
  }

  /** Whether {@code --config} was given both before and after the subcommand, naming two files. */
  static boolean differ(@Nullable Path global, @Nullable Path local) {
    return global != null
        && local != null
        && !global.toAbsolutePath().normalize().equals(local.toAbsolutePath().normalize());
  }

  Path path() {
    return given()
        .or(ConfigParser::defaultPath)
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
