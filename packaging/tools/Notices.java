import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.TreeMap;
import java.util.jar.JarFile;
import java.util.regex.Pattern;

/**
 * Build-time tool of packaging/build: the third-party notices of the jars a package ships. For
 * each jar of LIBDIR it reads the Maven coordinates (META-INF/maven/.../pom.properties) and the
 * licenses declared in the artifact's POM in the local Maven repository (following parent POMs
 * when the artifact declares none). Usage: {@code java Notices.java LIBDIR M2REPO OUT}. A jar
 * without coordinates or without a declared license fails the build: nothing ships unlisted.
 */
public final class Notices {
  private static final Pattern LICENSE =
      Pattern.compile("<license>.*?<name>\\s*(.*?)\\s*</name>(?:.*?<url>\\s*(.*?)\\s*</url>)?.*?</license>", Pattern.DOTALL);
  private static final Pattern PARENT = Pattern.compile("<parent>(.*?)</parent>", Pattern.DOTALL);

  public static void main(String[] args) throws IOException {
    var lib = Path.of(args[0]);
    var m2 = Path.of(args[1]);
    var rows = new TreeMap<String, String>();
    try (var jars = Files.list(lib)) {
      for (var jar : jars.filter(p -> p.toString().endsWith(".jar")).sorted().toList()) {
        var gav = coordinates(jar, m2);
        if (gav[0].equals("dev.zrepl4j")) {
          continue; // ours: LICENSE
        }
        var licenses = licenses(m2, gav[0], gav[1], gav[2]);
        if (licenses.isEmpty()) {
          throw new IllegalStateException("Notices: no license declared for " + String.join(":", gav));
        }
        rows.put(gav[0] + ":" + gav[1], gav[2] + "\t" + jar.getFileName() + "\t" + String.join("; ", licenses));
      }
    }
    var t = new StringBuilder();
    t.append("Third-party components shipped with zrepl4j\n")
        .append("============================================\n\n")
        .append("zrepl4j itself is MIT-licensed (see LICENSE). The package ships these libraries as\n")
        .append("separate, unmodified jars in /usr/lib/zrepl4j/lib (picocli's class files are only\n")
        .append("rewritten to a newer class-file version so that the JVM's AOT cache can hold them),\n")
        .append("and a Java runtime made by jlink from Eclipse Temurin (OpenJDK: GPL-2.0 with the\n")
        .append("Classpath Exception; its notices are in /usr/lib/zrepl4j/runtime/legal).\n\n")
        .append("The MariaDB Connector/J (LGPL-2.1) is its own jar, not merged into zrepl4j's: it can be\n")
        .append("replaced by another build of it (same file name) without rebuilding zrepl4j.\n\n")
        .append("group:artifact  version  jar  license (as declared in the artifact's POM)\n\n");
    for (var e : rows.entrySet()) {
      var f = e.getValue().split("\t");
      t.append(e.getKey()).append("  ").append(f[0]).append("  ").append(f[1]).append("\n    ").append(f[2]).append("\n");
    }
    Files.writeString(Path.of(args[2]), t.toString());
    System.out.println("Notices: " + rows.size() + " third-party jars");
  }

  private static String[] coordinates(Path jar, Path m2) throws IOException {
    try (var jf = new JarFile(jar.toFile())) {
      var name = jar.getFileName().toString();
      String[] best = null;
      for (var it = jf.entries().asIterator(); it.hasNext(); ) {
        var e = it.next();
        if (e.getName().startsWith("META-INF/maven/") && e.getName().endsWith("/pom.properties")) {
          var p = new Properties();
          try (var is = jf.getInputStream(e)) {
            p.load(is);
          }
          var gav = new String[] {p.getProperty("groupId"), p.getProperty("artifactId"), p.getProperty("version")};
          if (name.equals(gav[1] + "-" + gav[2] + ".jar")) {
            return gav;
          }
          best = gav;
        }
      }
      if (best != null) {
        return best;
      }
    }
    // no pom.properties in the jar: its place in the local repository (GROUP/ARTIFACT/VERSION/NAME)
    try (var found = Files.find(m2, 12, (p, attrs) -> p.getFileName().toString().equals(jar.getFileName().toString()))) {
      var p = found.findFirst().orElseThrow(() -> new IllegalStateException("Notices: no Maven coordinates for " + jar));
      var rel = m2.relativize(p);
      int n = rel.getNameCount();
      return new String[] {
        rel.subpath(0, n - 3).toString().replace('/', '.'),
        rel.getName(n - 3).toString(),
        rel.getName(n - 2).toString()
      };
    }
  }

  private static List<String> licenses(Path m2, String g, String a, String v) throws IOException {
    var pom = m2.resolve(g.replace('.', '/')).resolve(a).resolve(v).resolve(a + "-" + v + ".pom");
    if (!Files.exists(pom)) {
      throw new IllegalStateException("Notices: no POM " + pom);
    }
    var text = Files.readString(pom);
    var out = new ArrayList<String>();
    var lm = LICENSE.matcher(text);
    while (lm.find()) {
      out.add(lm.group(2) == null ? lm.group(1) : lm.group(1) + " <" + lm.group(2) + ">");
    }
    if (out.isEmpty()) {
      var pm = PARENT.matcher(text);
      if (pm.find()) {
        var p = pm.group(1);
        return licenses(m2, tag(p, "groupId"), tag(p, "artifactId"), tag(p, "version"));
      }
    }
    return out;
  }

  private static String tag(String xml, String tag) {
    var m = Pattern.compile("<" + tag + ">\\s*(.*?)\\s*</" + tag + ">").matcher(xml);
    if (!m.find()) {
      throw new IllegalStateException("Notices: no <" + tag + "> in " + xml);
    }
    return m.group(1);
  }
}
