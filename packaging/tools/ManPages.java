import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Build-time tool of packaging/build: writes the man pages (troff, section 1) and the bash
 * completion script of the {@code zrepl4j} command from its picocli definitions
 * ({@code dev.zrepl4j.cli.Main.commandLine()}), so every option and subcommand the command has
 * appears without being written twice. Usage, with the application's jars on the class path:
 * {@code java -cp JARS ManPages.java OUTDIR VERSION DATE} writes {@code OUTDIR/man1/zrepl4j.1},
 * one {@code zrepl4j-SUB[-SUBSUB].1} per subcommand, and {@code OUTDIR/zrepl4j.bash}.
 */
public final class ManPages {
  public static void main(String[] args) throws IOException {
    var out = Path.of(args[0]);
    var version = args[1];
    var date = args[2];
    var root = dev.zrepl4j.cli.Main.commandLine();
    Files.createDirectories(out.resolve("man1"));
    var pages = new ArrayList<String>();
    write(root, out.resolve("man1"), version, date, pages);
    Files.writeString(out.resolve("zrepl4j.bash"), AutoComplete.bash("zrepl4j", root));
    System.out.println("ManPages: " + String.join(" ", pages));
  }

  private static void write(
      CommandLine cl, Path dir, String version, String date, List<String> pages)
      throws IOException {
    var spec = cl.getCommandSpec();
    var page = spec.qualifiedName("-");
    pages.add(page);
    var help = new CommandLine.Help(spec, CommandLine.Help.defaultColorScheme(CommandLine.Help.Ansi.OFF));
    var t = new StringBuilder();
    var description = List.of(spec.usageMessage().description());
    t.append(".TH \"").append(esc(page.toUpperCase())).append("\" 1 \"").append(date)
        .append("\" \"zrepl4j ").append(esc(version)).append("\" \"zrepl4j Manual\"\n");
    t.append(".SH NAME\n").append(esc(page)).append(" \\- ")
        .append(esc(description.isEmpty() ? spec.name() : firstLine(description.get(0))))
        .append('\n');
    t.append(".SH SYNOPSIS\n.nf\n").append(text(help.synopsis(0).stripTrailing())).append("\n.fi\n");
    if (!description.isEmpty()) {
      t.append(".SH DESCRIPTION\n").append(paragraphs(description));
    }
    var options = spec.options().stream().filter(o -> !o.hidden()).toList();
    if (!options.isEmpty()) {
      t.append(".SH OPTIONS\n");
      for (var o : options) {
        t.append(".TP\n");
        var names = new ArrayList<String>();
        for (var n : o.names()) {
          names.add("\\fB" + esc(n) + "\\fR");
        }
        t.append(String.join(", ", names));
        if (o.arity().max() > 0) {
          t.append(" \\fI").append(esc(o.paramLabel())).append("\\fR");
        }
        t.append('\n').append(paragraphs(List.of(o.description())));
      }
    }
    var params = spec.positionalParameters().stream().filter(p -> !p.hidden()).toList();
    if (!params.isEmpty()) {
      t.append(".SH ARGUMENTS\n");
      for (var p : params) {
        t.append(".TP\n\\fI").append(esc(p.paramLabel())).append("\\fR\n")
            .append(paragraphs(List.of(p.description())));
      }
    }
    var subs = new ArrayList<CommandLine>();
    var seen = new IdentityHashMap<CommandLine, Boolean>();
    for (var sub : cl.getSubcommands().values()) {
      if (seen.put(sub, true) == null && !sub.getCommandSpec().usageMessage().hidden()) {
        subs.add(sub);
      }
    }
    if (!subs.isEmpty()) {
      t.append(".SH COMMANDS\n");
      for (var sub : subs) {
        var d = sub.getCommandSpec().usageMessage().description();
        t.append(".TP\n\\fB").append(esc(sub.getCommandName())).append("\\fR\n")
            .append(esc(d.length == 0 ? "" : firstLine(d[0])))
            .append(" See \\fB").append(esc(sub.getCommandSpec().qualifiedName("-")))
            .append("\\fR(1).\n");
      }
    }
    var seeAlso = new ArrayList<String>();
    if (spec.parent() != null) {
      seeAlso.add("\\fB" + esc(spec.parent().qualifiedName("-")) + "\\fR(1)");
    }
    for (var sub : subs) {
      seeAlso.add("\\fB" + esc(sub.getCommandSpec().qualifiedName("-")) + "\\fR(1)");
    }
    t.append(".SH FILES\n/etc/zrepl4j/zrepl.yml (the config, zrepl's format), "
        + "/lib/systemd/system/zrepl4j.service, /usr/share/doc/zrepl4j/\n");
    if (!seeAlso.isEmpty()) {
      t.append(".SH SEE ALSO\n").append(String.join(", ", seeAlso)).append('\n');
    }
    Files.writeString(dir.resolve(page + ".1"), t.toString());
    for (var sub : subs) {
      write(sub, dir, version, date, pages);
    }
  }

  private static String firstLine(String s) {
    var i = s.indexOf('\n');
    return i < 0 ? s : s.substring(0, i);
  }

  /** Description lines as filled troff text, one paragraph per line of the definition. */
  private static String paragraphs(List<String> lines) {
    var t = new StringBuilder();
    boolean first = true;
    for (var line : lines) {
      for (var part : line.split("\n", -1)) {
        if (part.isBlank()) {
          continue;
        }
        if (!first) {
          t.append(".br\n");
        }
        t.append(text(part.strip())).append('\n');
        first = false;
      }
    }
    return t.toString();
  }

  /** Multi-line text with every line escaped. */
  private static String text(String s) {
    var t = new StringBuilder();
    for (var line : s.split("\n", -1)) {
      if (!t.isEmpty()) {
        t.append('\n');
      }
      t.append(esc(line));
    }
    return t.toString();
  }

  /** Escapes troff: backslashes, minus signs, and a control character at the start of a line. */
  private static String esc(String s) {
    var e = s.replace("\\", "\\e").replace("-", "\\-");
    return e.startsWith(".") || e.startsWith("'") ? "\\&" + e : e;
  }
}
