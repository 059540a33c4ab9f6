package dev.zrepl4j.config;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.MethodModel;
import java.lang.classfile.Opcode;
import java.lang.classfile.instruction.FieldInstruction;
import java.lang.classfile.instruction.InvokeDynamicInstruction;
import java.lang.classfile.instruction.InvokeInstruction;
import java.lang.constant.ClassDesc;
import java.lang.constant.DirectMethodHandleDesc;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * Finds the config model's record components that no production code reads: walks every record
 * reachable from a root record (through record components, lists, sets, maps, optionals, and the
 * permitted subclasses of sealed interfaces), then scans compiled classes with the JDK's {@code
 * java.lang.classfile} API for what reads each component: a call of its accessor (on the record or
 * on an interface the record implements, also as a method reference), or a {@code getfield} of it
 * inside the record's own methods (not its accessor). Calls from the config parser's classes, and
 * from records' own {@code equals}/{@code hashCode}/{@code toString}, do not count.
 */
final class ConfigReadScanner {
  /** A record component: {@code SimpleRecordName.component}, e.g. {@code Global.monitoring}. */
  record Component(Class<?> record, RecordComponent component) {
    String name() {
      var n = record.getName();
      return n.substring(n.lastIndexOf('.') + 1).replace('$', '.') + "." + component.getName();
    }

    String descriptor() {
      return "()" + component.getType().descriptorString();
    }
  }

  private record Call(String owner, String name, String descriptor) {}

  private ConfigReadScanner() {}

  /** Every component reachable from {@code root}, restricted to classes {@code inModel} accepts. */
  static List<Component> components(Class<?> root, Predicate<Class<?>> inModel) {
    var out = new ArrayList<Component>();
    var seen = new HashSet<Class<?>>();
    var todo = new ArrayDeque<Class<?>>(List.of(root));
    while (!todo.isEmpty()) {
      var c = todo.pop();
      if (!seen.add(c) || !inModel.test(c)) {
        continue;
      }
      if (c.isRecord()) {
        for (var rc : c.getRecordComponents()) {
          out.add(new Component(c, rc));
          types(rc.getGenericType(), todo);
        }
      }
      if (c.isSealed()) {
        for (var p : c.getPermittedSubclasses()) {
          todo.push(p);
        }
      }
    }
    return out;
  }

  private static void types(Type t, ArrayDeque<Class<?>> todo) {
    switch (t) {
      case Class<?> c -> todo.push(c);
      case ParameterizedType p -> {
        types(p.getRawType(), todo);
        for (var a : p.getActualTypeArguments()) {
          types(a, todo);
        }
      }
      default -> {}
    }
  }

  /**
   * The components of {@code model} that no class in {@code classes} reads, except classes {@code
   * ignored} accepts (by internal name, e.g. {@code dev/zrepl4j/config/ConfigParser}).
   */
  static Set<String> unread(List<Component> model, List<Path> classes, Predicate<String> ignored) {
    var calls = new HashSet<Call>();
    for (var root : classes) {
      for (var cm : classModels(root)) {
        var owner = cm.thisClass().asInternalName();
        if (ignored.test(owner)) {
          continue;
        }
        boolean record =
            cm.superclass().map(sc -> sc.asInternalName().equals("java/lang/Record")).orElse(false);
        for (var m : cm.methods()) {
          if (record && ownObjectMethod(m)) {
            continue;
          }
          scan(owner, m, calls);
        }
      }
    }
    var out = new TreeSet<String>();
    for (var c : model) {
      if (!read(c, calls)) {
        out.add(c.name());
      }
    }
    return out;
  }

  private static boolean ownObjectMethod(MethodModel m) {
    var n = m.methodName().stringValue();
    return n.equals("equals") || n.equals("hashCode") || n.equals("toString");
  }

  private static void scan(String owner, MethodModel m, Set<Call> calls) {
    m.code()
        .ifPresent(
            code -> {
              for (var e : code) {
                switch (e) {
                  case InvokeInstruction i ->
                      calls.add(
                          new Call(
                              i.owner().asInternalName(),
                              i.name().stringValue(),
                              i.type().stringValue()));
                  case InvokeDynamicInstruction d -> {
                    for (var arg : d.bootstrapArgs()) {
                      if (arg instanceof DirectMethodHandleDesc h) {
                        calls.add(
                            new Call(internal(h.owner()), h.methodName(), h.lookupDescriptor()));
                      }
                    }
                  }
                  case FieldInstruction f
                      when f.opcode() == Opcode.GETFIELD
                          && f.owner().asInternalName().equals(owner)
                          && !f.name().equals(m.methodName()) ->
                      // a record's own method, not its accessor, reading its field (e.g.
                      // BandwidthLimit.unlimited())
                      calls.add(
                          new Call(owner, f.name().stringValue(), "()" + f.type().stringValue()));
                  default -> {}
                }
              }
            });
  }

  private static String internal(ClassDesc d) {
    var s = d.descriptorString();
    return s.substring(1, s.length() - 1);
  }

  private static boolean read(Component c, Set<Call> calls) {
    var name = c.component().getName();
    var desc = c.descriptor();
    for (var call : calls) {
      if (!call.name().equals(name) || !call.descriptor().equals(desc)) {
        continue;
      }
      Class<?> owner;
      try {
        owner =
            Class.forName(
                call.owner().replace('/', '.'), false, ConfigReadScanner.class.getClassLoader());
      } catch (ClassNotFoundException | LinkageError e) {
        continue;
      }
      if (owner.isAssignableFrom(c.record())) {
        return true;
      }
    }
    return false;
  }

  private static List<ClassModel> classModels(Path root) {
    var out = new ArrayList<ClassModel>();
    try {
      if (Files.isDirectory(root)) {
        try (Stream<Path> s = Files.walk(root)) {
          for (var f : s.filter(p -> p.toString().endsWith(".class")).toList()) {
            out.add(ClassFile.of().parse(Files.readAllBytes(f)));
          }
        }
      } else if (root.toString().endsWith(".jar")) {
        try (var jar = new JarFile(root.toFile())) {
          for (var e : jar.stream().toList()) {
            if (e.getName().endsWith(".class") && !e.getName().startsWith("META-INF/")) {
              try (var in = jar.getInputStream(e)) {
                out.add(ClassFile.of().parse(in.readAllBytes()));
              }
            }
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  /** The main (not test) class directories and jars of zrepl4j's modules on the class path. */
  static List<Path> mainClassesOnClassPath() {
    var out = new LinkedHashSet<Path>();
    for (var entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
      var p = Path.of(entry).toAbsolutePath().normalize();
      var s = p.toString().replace('\\', '/');
      boolean ours =
          s.matches(".*/(rpc|zfs|replication|daemon)/target/classes")
              || s.matches(".*/zrepl4j-(rpc|zfs|replication|daemon)-[^/]*\\.jar");
      if (ours && !s.endsWith("-tests.jar")) {
        out.add(p);
      }
    }
    return List.copyOf(out);
  }
}
