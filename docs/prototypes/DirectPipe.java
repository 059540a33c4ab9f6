import java.lang.foreign.*;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.*;
import java.util.*;

/**
 * A measurement prototype, not product code (issue 15, docs/DIRECT-PATH.md "Measured: local"): one
 * zfs send into zfs recv on this host, four ways. raw: ProcessBuilder.startPipeline (the JDK's
 * default 64 KiB pipe, what bench/run replication calls raw). direct: one 1 MiB pipe made with
 * pipe2 and fcntl(F_SETPIPE_SZ), zfs send's stdout and zfs recv's stdin, the JVM out of the
 * stream. splice: two 1 MiB pipes, the JVM moves the stream from one to the other with splice(2)
 * (no copy through user space). relay: the same pipes, the JVM reads and writes through a 1 MiB
 * direct buffer (what the local path does today). Prints wall time, MiB/s for 1 GiB, and the JVM's
 * CPU time (JVM start included: compare with raw's, whose JVM does nothing).
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED docs/prototypes/DirectPipe.java POOL/FS@SNAP TARGET MODE
 * </pre>
 */
public class DirectPipe {
  static final Linker L = Linker.nativeLinker();
  static final SymbolLookup C = L.defaultLookup();
  static MethodHandle h(String n, FunctionDescriptor d) { return L.downcallHandle(C.findOrThrow(n), d); }
  static final MethodHandle PIPE2 = h("pipe2", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
  static final MethodHandle FCNTL = L.downcallHandle(C.findOrThrow("fcntl"), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT), Linker.Option.firstVariadicArg(2));
  static final MethodHandle CLOSE = h("close", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
  static final MethodHandle SPLICE = h("splice", FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));

  static int[] pipe() throws Throwable {
    try (var a = Arena.ofConfined()) {
      var fds = a.allocate(ValueLayout.JAVA_INT, 2);
      if ((int) PIPE2.invokeExact(fds, 0x80000) != 0) throw new IllegalStateException("pipe2");
      int r = fds.getAtIndex(ValueLayout.JAVA_INT, 0), w = fds.getAtIndex(ValueLayout.JAVA_INT, 1);
      int unused = (int) FCNTL.invokeExact(w, 1031, 1 << 20);
      return new int[] {r, w};
    }
  }
  static Path fd(int n) { return Path.of("/proc/self/fd/" + n); }

  public static void main(String[] a) throws Throwable {
    String snap = a[0], dst = a[1]; String mode = a[2];
    long t0 = System.nanoTime();
    if (mode.equals("raw")) {
      var ps = ProcessBuilder.startPipeline(List.of(new ProcessBuilder("zfs", "send", snap), new ProcessBuilder("zfs", "recv", "-u", dst).redirectOutput(ProcessBuilder.Redirect.DISCARD)));
      for (var p : ps) if (p.waitFor() != 0) throw new IllegalStateException("raw failed");
    } else if (mode.equals("direct")) {
      int[] A = pipe();
      var send = new ProcessBuilder("zfs", "send", snap).redirectOutput(fd(A[1]).toFile()).start();
      var recv = new ProcessBuilder("zfs", "recv", "-u", dst).redirectInput(fd(A[0]).toFile()).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      int r1 = (int) CLOSE.invokeExact(A[1]); int r2 = (int) CLOSE.invokeExact(A[0]);
      if (send.waitFor() != 0 || recv.waitFor() != 0) throw new IllegalStateException("failed");
    } else {
      int[] A = pipe(), B = pipe();
      var send = new ProcessBuilder("zfs", "send", snap).redirectOutput(fd(A[1]).toFile()).start();
      var recv = new ProcessBuilder("zfs", "recv", "-u", dst).redirectInput(fd(B[0]).toFile()).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      int r1 = (int) CLOSE.invokeExact(A[1]); int r2 = (int) CLOSE.invokeExact(B[0]);
      long total = 0;
      if (mode.equals("splice")) {
        while (true) {
          long n = (long) SPLICE.invokeExact(A[0], MemorySegment.NULL, B[1], MemorySegment.NULL, 1L << 20, 1 | 4);
          if (n <= 0) { if (n < 0) throw new IllegalStateException("splice"); break; }
          total += n;
        }
      } else {
        try (var in = FileChannel.open(fd(A[0]), StandardOpenOption.READ); var out = FileChannel.open(fd(B[1]), StandardOpenOption.WRITE)) {
          var buf = ByteBuffer.allocateDirect(1 << 20);
          while (in.read(buf.clear()) >= 0) { buf.flip(); while (buf.hasRemaining()) out.write(buf); total += buf.limit(); }
        }
      }
      int r3 = (int) CLOSE.invokeExact(A[0]); int r4 = (int) CLOSE.invokeExact(B[1]);
      if (send.waitFor() != 0 || recv.waitFor() != 0) throw new IllegalStateException("failed");
    }
    double s = (System.nanoTime() - t0) / 1e9;
    var cpu = java.lang.management.ManagementFactory.getThreadMXBean();
    System.out.printf(Locale.ROOT, "%s %.2f s %.1f MiB/s (1024 MiB), jvm cpu %.2f s%n", mode, s, 1024 / s, ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime() / 1e9);
  }
}
