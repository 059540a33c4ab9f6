import java.io.IOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassFileVersion;
import java.lang.classfile.ClassHierarchyResolver;
import java.lang.classfile.ClassTransform;
import java.lang.classfile.CodeTransform;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;

/**
 * Build-time tool of packaging/build: copies a jar, rewriting class files older than Java 6
 * (major version 50) to Java 8's format with stack maps computed by the JDK's ClassFile API.
 *
 * <p>Why: the JVM's AOT cache (JEP 483) skips classes older than version 50 ("Old class has been
 * linked"), and picocli is compiled for Java 5, so its ~180 classes would be loaded and verified
 * at every start of a short command. The code is unchanged; only the class file version and the
 * StackMapTable attributes the newer format requires. Usage: {@code java Rejar.java IN OUT}.
 */
public final class Rejar {
  public static void main(String[] args) throws IOException {
    var in = Path.of(args[0]);
    var out = Path.of(args[1]);
    int rewritten = 0;
    try (var loader = new URLClassLoader(new URL[] {in.toUri().toURL()}, null);
        var jar = new JarFile(in.toFile());
        var os = new JarOutputStream(Files.newOutputStream(out))) {
      for (var it = jar.entries().asIterator(); it.hasNext(); ) {
        JarEntry e = it.next();
        byte[] b;
        try (var is = jar.getInputStream(e)) {
          b = is.readAllBytes();
        }
        if (e.getName().endsWith(".class") && !e.getName().contains("module-info")
            && !e.getName().startsWith("META-INF/versions/")) {
          int major = ((b[6] & 0xff) << 8) | (b[7] & 0xff);
          if (major < 50) {
            // the stack map generator needs the class hierarchy: from the jar itself, then the JDK
            var cf =
                ClassFile.of(
                    ClassFile.StackMapsOption.GENERATE_STACK_MAPS,
                    ClassFile.ClassHierarchyResolverOption.of(
                        ClassHierarchyResolver.ofResourceParsing(loader)
                            .orElse(ClassHierarchyResolver.defaultResolver())));
            var model = cf.parse(b);
            // every method body is rebuilt (not copied), so that its stack maps are generated
            ClassTransform version =
                (cb, ce) -> cb.with(ce instanceof ClassFileVersion ? ClassFileVersion.of(52, 0) : ce);
            b =
                cf.transformClass(
                    model,
                    ClassTransform.transformingMethodBodies(CodeTransform.ACCEPT_ALL).andThen(version));
            rewritten++;
          }
        }
        var ne = new JarEntry(e.getName());
        ne.setTime(e.getTime());
        os.putNextEntry(ne);
        os.write(b);
        os.closeEntry();
      }
    }
    System.out.println("Rejar: " + in.getFileName() + ": " + rewritten + " class files rewritten");
  }
}
