package dev.zrepl4j.daemon;

import dev.zrepl4j.replication.FuseFixture;
import dev.zrepl4j.replication.Trees;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import dev.zrepl4j.zfs.GuestZfs;
import dev.zrepl4j.zfs.RealZfs;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The two pools of a {@link FaultHarness} campaign and the ZFS they live on: zfs-fuse ({@link
 * Fuse}: pools on files, the daemons run the host's {@code zfs}) or OpenZFS 2.3 in the test guest
 * ({@link Guest}: the daemons' {@code zfs} is the guest's wrapper, the sender's tree is encrypted
 * and sent raw, receives are resumable, the cursor is a bookmark). Everything the harness does to
 * or reads from the pools goes through here; the faults, the daemons and the invariants are the
 * harness's, the same on both.
 *
 * <p>The sender's tree is {@code SRC/data}, {@code SRC/data/a}, ... (the harness's filesystems,
 * relative to the source pool); the receiver has {@code DST/sink} (the sink's root) and {@code
 * DST/filler} (unmounted, its reservation fills the pool).
 *
 * <p>Not thread-safe: driven by the harness's one thread.
 */
sealed interface FaultPools extends AutoCloseable permits FaultPools.Fuse, FaultPools.Guest {

  /** Where the pools are, in words (the figures name it). */
  String label();

  /** {@code SRC/relative}. */
  DatasetPath src(String relative);

  /** {@code DST/relative}. */
  DatasetPath dst(String relative);

  /** Environment for both daemons (which {@code zfs} they run). */
  Map<String, String> daemonEnv();

  /** The push job's extra keys (indented for the job's map), e.g. {@code send:}. */
  String pushOptions();

  /**
   * Whether receives leave a resume token when interrupted (and the next run must resume it), the
   * cursor is a bookmark (not a hold) and the sender's tree is encrypted and sent raw.
   */
  boolean resumable();

  /** Creates the sender's filesystems ({@code relative} to the source pool) and the receiver's. */
  void setUp(List<String> filesystems) throws IOException;

  /** Writes a file of {@code size} random bytes into the mounted filesystem {@code fs}. */
  void write(String fs, String name, int size, long seed) throws IOException;

  /** Deletes a file written by {@link #write}. */
  void delete(String fs, String name) throws IOException;

  /** {@code zfs snapshot [-r] dataset@name}. */
  void snapshot(DatasetPath dataset, String name, boolean recursive) throws IOException;

  /**
   * The snapshots and bookmarks of each of {@code filesystems} (on either pool), with userrefs (one
   * listing; a filesystem that does not exist is left out).
   */
  Map<DatasetPath, List<FilesystemVersion>> versions(List<DatasetPath> filesystems)
      throws IOException;

  /** The receiving pool's free bytes. */
  long available() throws IOException;

  /** {@code zfs set reservation=} on {@code DST/filler}, in MiB (0: none). */
  void reserve(long mib) throws IOException;

  /** The snapshots of {@code snapshots} that lack the user hold {@code tag}, in words. */
  List<String> lackingHold(List<FilesystemVersion> snapshots, String tag) throws IOException;

  /**
   * Snapshots to compare file by file with the sender's.
   *
   * @param fs the sender's filesystem, relative to its pool
   * @param received its copy on the receiver
   * @param names the snapshots (of both) to compare, the newest last
   */
  record Compare(String fs, DatasetPath received, List<String> names) {
    public Compare {
      names = List.copyOf(names);
    }
  }

  /**
   * Compares the files (SHA-256 per file name) of each {@link Compare}'s snapshots on both sides.
   * Where only the heads can be read (zfs-fuse) the receiver's head against the sender's live
   * files.
   *
   * @return the first difference in words, or "" if the files are the same
   */
  String compareFiles(List<Compare> compares) throws IOException;

  /** The {@code zfs send}/{@code receive} processes of the two pools, in words (none: empty). */
  List<String> zfsLeft() throws IOException;

  /**
   * Kills ({@code kill -9}) the {@code zfs VERB} ({@code send} or {@code recv}) that {@code d} runs
   * (the real {@code zfs} process, wherever it runs); returns what was killed (empty: none runs).
   */
  List<String> killZfs(DaemonProcess d, String verb) throws IOException;

  /** The {@code receive_resume_token} of {@code fs} on the receiver ("" if none or no dataset). */
  String resumeToken(DatasetPath fs) throws IOException;

  /** The length of the stream of {@code zfs send ARGS} on the sender (where it can be known). */
  long streamBytes(String... sendArgs) throws IOException;

  @Override
  void close() throws IOException;

  /** Pools on zfs-fuse (no resume tokens, no bookmarks, no {@code zfs holds}). */
  static FaultPools fuse() throws IOException {
    return Fuse.create();
  }

  /** Pools in the OpenZFS guest (named by the environment of {@code zfs-guest.sh env}). */
  static FaultPools guest() throws IOException {
    return Guest.create();
  }

  static Map<String, String> digests(Path dir) throws IOException {
    var m = new TreeMap<String, String>();
    try (var files = Files.list(dir)) {
      for (var f : files.filter(Files::isRegularFile).toList()) {
        MessageDigest md;
        try {
          md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
          throw new IllegalStateException(e);
        }
        try (var in = Files.newInputStream(f)) {
          var buf = new byte[1 << 16];
          int n;
          while ((n = in.read(buf)) >= 0) {
            md.update(buf, 0, n);
          }
        }
        m.put(f.getFileName().toString(), HexFormat.of().formatHex(md.digest()));
      }
    }
    return m;
  }

  // ------------------------------------------------------------------------------ zfs-fuse

  /** Two zfs-fuse pools on files; the daemons run the host's {@code zfs}. */
  final class Fuse implements FaultPools {
    private final FuseFixture src;
    private final FuseFixture dst;

    private Fuse(FuseFixture src, FuseFixture dst) {
      this.src = src;
      this.dst = dst;
    }

    static Fuse create() throws IOException {
      var src = FuseFixture.create("fsrc", 512);
      try {
        return new Fuse(src, FuseFixture.create("fdst", 384));
      } catch (IOException | RuntimeException e) {
        src.close();
        throw e;
      }
    }

    @Override
    public String label() {
      return "zfs-fuse";
    }

    @Override
    public DatasetPath src(String relative) {
      return src.path(relative);
    }

    @Override
    public DatasetPath dst(String relative) {
      return dst.path(relative);
    }

    @Override
    public Map<String, String> daemonEnv() {
      return Map.of();
    }

    @Override
    public String pushOptions() {
      return "";
    }

    @Override
    public boolean resumable() {
      return false;
    }

    @Override
    public void setUp(List<String> filesystems) throws IOException {
      for (var fs : filesystems) {
        FuseFixture.run("zfs", "create", src.path(fs).toString());
      }
      FuseFixture.run("zfs", "create", dst.path("sink").toString());
      FuseFixture.run("zfs", "create", "-o", "mountpoint=none", dst.path("filler").toString());
    }

    @Override
    public void write(String fs, String name, int size, long seed) throws IOException {
      Trees.write(src.mounted(fs).resolve(name), seed, size);
    }

    @Override
    public void delete(String fs, String name) throws IOException {
      Files.delete(src.mounted(fs).resolve(name));
    }

    @Override
    public void snapshot(DatasetPath dataset, String name, boolean recursive) throws IOException {
      if (recursive) {
        FuseFixture.run("zfs", "snapshot", "-r", dataset + "@" + name);
      } else {
        FuseFixture.run("zfs", "snapshot", dataset + "@" + name);
      }
    }

    @Override
    public Map<DatasetPath, List<FilesystemVersion>> versions(List<DatasetPath> filesystems)
        throws IOException {
      // (one zfs-fuse holds both pools)
      return src.zfs.listVersionsOfExisting(filesystems);
    }

    @Override
    public long available() throws IOException {
      return FaultHarness.bytes(FuseFixture.prop(dst.name, "available"));
    }

    @Override
    public void reserve(long mib) throws IOException {
      FuseFixture.run(
          "zfs",
          "set",
          "reservation=" + (mib == 0 ? "none" : mib + "M"),
          dst.path("filler").toString());
    }

    /**
     * {@code zfs holds} does not work on zfs-fuse: a probe ({@code zfs hold TAG} fails with "tag
     * already exists" where it is, and is undone at once where it was not).
     */
    @Override
    public List<String> lackingHold(List<FilesystemVersion> snapshots, String tag)
        throws IOException {
      var l = new ArrayList<String>();
      for (var v : snapshots) {
        if (!hasHold(v, tag)) {
          l.add(v.filesystem() + "@" + v.name());
        }
      }
      return l;
    }

    private static boolean hasHold(FilesystemVersion v, String tag) throws IOException {
      var snap = v.filesystem() + "@" + v.name();
      var p = new ProcessBuilder("zfs", "hold", tag, snap).redirectErrorStream(true).start();
      var text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      int exit;
      try {
        exit = p.waitFor();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException();
      }
      if (exit == 0) {
        FuseFixture.run("zfs", "release", tag, snap);
        return false;
      }
      if (text.contains("tag already exists")) {
        return true;
      }
      throw new IOException("zfs hold " + tag + " " + snap + ": " + text);
    }

    /** zfs-fuse cannot mount a snapshot: the receiver's head against the sender's live files. */
    @Override
    public String compareFiles(List<Compare> compares) throws IOException {
      for (var c : compares) {
        var differs = compareHeads(c.fs(), c.received());
        if (!differs.isEmpty()) {
          return differs;
        }
      }
      return "";
    }

    private String compareHeads(String fs, DatasetPath received) throws IOException {
      var expected = digests(src.mounted(fs));
      var mnt = dst.mountReadOnly(received);
      Map<String, String> actual;
      try {
        actual = digests(mnt);
      } finally {
        FuseFixture.unmount(received);
      }
      if (expected.equals(actual)) {
        return "";
      }
      return "the files of "
          + received
          + " differ from the sender's: expected "
          + expected.keySet()
          + ", got "
          + actual.keySet()
          + (expected.keySet().equals(actual.keySet()) ? " (contents differ)" : "");
    }

    @Override
    public List<String> zfsLeft() {
      var pools = List.of(src.name, dst.name);
      return ProcessHandle.allProcesses()
          .filter(
              p -> {
                var args = p.info().arguments().orElse(new String[0]);
                if (!p.info().command().orElse("").endsWith("/zfs") || args.length == 0) {
                  return false;
                }
                if (!Set.of("send", "recv", "receive").contains(args[0])) {
                  return false;
                }
                for (var a : args) {
                  for (var pool : pools) {
                    if (a.startsWith(pool)) {
                      return true;
                    }
                  }
                }
                return false;
              })
          .map(p -> p.pid() + " " + String.join(" ", p.info().arguments().orElse(new String[0])))
          .toList();
    }

    @Override
    public List<String> killZfs(DaemonProcess d, String verb) {
      var killed = new ArrayList<String>();
      for (var p : FaultHarness.zfsChildren(d.handle(), verb)) {
        p.destroyForcibly();
        killed.add(String.valueOf(p.pid()));
      }
      return killed;
    }

    @Override
    public String resumeToken(DatasetPath fs) {
      return "";
    }

    @Override
    public long streamBytes(String... sendArgs) {
      throw new UnsupportedOperationException("zfs-fuse: streams are not measured");
    }

    @Override
    public void close() throws IOException {
      try (var s = src;
          var d = dst) {
        // pools destroyed in reverse order
      }
    }
  }

  // ------------------------------------------------------------------------ OpenZFS guest

  /**
   * Two pools in the OpenZFS 2.3 guest ({@code fgsrc}, {@code fgdst}: fixed names, one guest test
   * run at a time). The sender's {@code data} is an encryption root (passphrase in a key file in
   * the guest) and the push job sends raw ({@code send: {encrypted: true}}); the receiver's copies
   * stay locked except while the harness compares their files (it loads the key, mounts each
   * snapshot read-only, unloads the key).
   */
  final class Guest implements FaultPools {
    static final String SRC = "fgsrc";
    static final String DST = "fgdst";
    private static final String KEY = "/root/zrepl4j-faults.key";
    private static final Pattern GUEST_ZFS =
        Pattern.compile("\\s*(\\d+) zfs (send|recv|receive) (.*)");

    private final GuestZfs guest;
    private final RealZfs zfs;

    private Guest(GuestZfs guest, RealZfs zfs) {
      this.guest = guest;
      this.zfs = zfs;
    }

    static Guest create() throws IOException {
      var guest = GuestZfs.fromEnvironment();
      guest.createPool(SRC);
      try {
        guest.createPool(DST);
        return new Guest(guest, guest.realZfs());
      } catch (IOException | RuntimeException | AssertionError e) {
        guest.destroyPoolIfExists(DST);
        guest.destroyPoolIfExists(SRC);
        throw e;
      }
    }

    @Override
    public String label() {
      return "OpenZFS guest ("
          + System.getenv().getOrDefault("ZREPL4J_GUEST_ZFS_VERSION", "?")
          + ")";
    }

    @Override
    public DatasetPath src(String relative) {
      return DatasetPath.parse(SRC + "/" + relative);
    }

    @Override
    public DatasetPath dst(String relative) {
      return DatasetPath.parse(DST + "/" + relative);
    }

    @Override
    public Map<String, String> daemonEnv() {
      return Map.of(
          "ZREPL4J_ZFS", guest.zfsArgv().getFirst(), "ZREPL4J_ZPOOL", guest.zpoolArgv().getFirst());
    }

    @Override
    public String pushOptions() {
      return "    send: {encrypted: true}\n";
    }

    @Override
    public boolean resumable() {
      return true;
    }

    @Override
    public void setUp(List<String> filesystems) throws IOException {
      // a raw (hex) key: a passphrase costs PBKDF2's 350,000 rounds at every load-key, seconds
      // under
      // emulation (the check loads each received filesystem's key once per fault)
      guest.sh("umask 077; printf %s " + "0123456789abcdef".repeat(4) + " > " + KEY);
      var root = filesystems.getFirst();
      guest
          .zfs(
              "create",
              "-o",
              "encryption=on",
              "-o",
              "keyformat=hex",
              "-o",
              "keylocation=file://" + KEY,
              src(root).toString())
          .ok();
      for (var fs : filesystems.subList(1, filesystems.size())) {
        guest.zfs("create", src(fs).toString()).ok();
      }
      guest.zfs("create", dst("sink").toString()).ok();
      guest.zfs("create", "-o", "mountpoint=none", dst("filler").toString()).ok();
    }

    private static String mounted(String fs) {
      return "/" + SRC + "/" + fs;
    }

    @Override
    public void write(String fs, String name, int size, long seed) {
      // random bytes made in the guest (streaming them in costs more than making them there)
      guest.sh("head -c " + size + " /dev/urandom > '" + mounted(fs) + "/" + name + "'");
    }

    @Override
    public void delete(String fs, String name) {
      guest.sh("rm -- '" + mounted(fs) + "/" + name + "'");
    }

    @Override
    public void snapshot(DatasetPath dataset, String name, boolean recursive) {
      if (recursive) {
        guest.zfs("snapshot", "-r", dataset + "@" + name).ok();
      } else {
        guest.zfs("snapshot", dataset + "@" + name).ok();
      }
    }

    @Override
    public Map<DatasetPath, List<FilesystemVersion>> versions(List<DatasetPath> filesystems)
        throws IOException {
      return zfs.listVersionsOfExisting(filesystems);
    }

    @Override
    public long available() {
      return Long.parseLong(guest.prop(DST, "available"));
    }

    @Override
    public void reserve(long mib) {
      guest
          .zfs("set", "reservation=" + (mib == 0 ? "none" : mib + "M"), dst("filler").toString())
          .ok();
    }

    /** One {@code zfs holds} for all. */
    @Override
    public List<String> lackingHold(List<FilesystemVersion> snapshots, String tag) {
      if (snapshots.isEmpty()) {
        return List.of();
      }
      var argv = new ArrayList<String>(List.of("holds", "-H"));
      for (var v : snapshots) {
        argv.add(v.filesystem() + "@" + v.name());
      }
      var have = new HashSet<String>();
      for (var line : guest.zfs(argv.toArray(String[]::new)).ok().lines().toList()) {
        var f = line.split("\t");
        if (f.length >= 2 && f[1].equals(tag)) {
          have.add(f[0]);
        }
      }
      return argv.subList(2, argv.size()).stream().filter(n -> !have.contains(n)).toList();
    }

    /**
     * Every named snapshot on both sides, in one guest command: the receiver's key is loaded for it
     * and unloaded after (the copies stay locked, as on a backup server without the key).
     */
    @Override
    public String compareFiles(List<Compare> compares) {
      var script = new StringBuilder("set -e; d=$(mktemp -d);");
      script.append(" sums() { mount -t zfs -o ro \"$1\" $d; (cd $d && find . -type f |");
      script.append(" LC_ALL=C sort | xargs -r sha256sum); umount $d; };");
      for (var c : compares) {
        if (c.names().isEmpty()) {
          continue;
        }
        var received = c.received().toString();
        var sender = src(c.fs()).toString();
        script.append(" loaded=$(zfs get -H -o value keystatus '").append(received).append("');");
        script.append(" [ \"$loaded\" = available ] || zfs load-key -L file://").append(KEY);
        script.append(" '").append(received).append("';");
        for (var n : c.names()) {
          script.append(" echo '== ").append(sender).append('@').append(n).append("'; sums '");
          script.append(sender).append('@').append(n).append("';");
          script.append(" echo '== ").append(received).append('@').append(n).append("'; sums '");
          script.append(received).append('@').append(n).append("';");
        }
        script.append(" [ \"$loaded\" = available ] || zfs unload-key '").append(received);
        script.append("';");
      }
      script.append(" rmdir $d");
      // each snapshot is mounted and read on both sides; under emulation on a loaded host that took
      // more than the default two minutes for three snapshots once
      int snapshots = compares.stream().mapToInt(c -> c.names().size()).sum();
      var out = guest.sh(Duration.ofMinutes(2 + 2L * snapshots), script.toString());
      var blocks = new LinkedHashMap<String, StringBuilder>();
      StringBuilder current = null;
      for (var line : out.lines().toList()) {
        if (line.startsWith("== ")) {
          current = new StringBuilder();
          blocks.put(line.substring(3), current);
        } else if (current != null) {
          current.append(line).append('\n');
        }
      }
      for (var c : compares) {
        for (var n : c.names()) {
          var s = String.valueOf(blocks.get(src(c.fs()) + "@" + n));
          var r = String.valueOf(blocks.get(c.received() + "@" + n));
          if (!s.equals(r) || s.isBlank()) {
            return "the files of "
                + c.received()
                + "@"
                + n
                + " differ from the sender's: expected\n"
                + s
                + "got\n"
                + r;
          }
        }
      }
      return "";
    }

    /** The command is on our pools (a resumed send names only its token: ours, the guest is). */
    private boolean ours(String args) {
      return args.contains(SRC + "/")
          || args.contains(SRC + "@")
          || args.contains(DST + "/")
          || args.matches("(.* )?-t .*");
    }

    @Override
    public List<String> zfsLeft() {
      var left = new ArrayList<String>();
      // the daemons' wrappers (ssh clients) on the host ...
      ProcessHandle.allProcesses()
          .forEach(
              p -> {
                var args = String.join(" ", p.info().arguments().orElse(new String[0]));
                if (p.info().command().orElse("").endsWith("/ssh")
                    && args.matches(".* zfs (send|recv|receive) .*")
                    && ours(args)) {
                  left.add("host " + p.pid() + " " + args);
                }
              });
      // ... and the zfs processes in the guest
      for (var line : guest.exec("ps", "-eo", "pid=,args=").ok().lines().toList()) {
        var m = GUEST_ZFS.matcher(line);
        if (m.matches() && ours(m.group(3))) {
          left.add("guest " + line.strip());
        }
      }
      return left;
    }

    /** Kills the guest's {@code zfs} process itself (its wrapper on the host then exits 137). */
    @Override
    public List<String> killZfs(DaemonProcess d, String verb) {
      var pool = verb.equals("send") ? SRC : DST;
      var killed = new ArrayList<String>();
      for (var line : guest.exec("ps", "-eo", "pid=,args=").ok().lines().toList()) {
        var m = GUEST_ZFS.matcher(line);
        if (m.matches()
            && (m.group(2).equals(verb) || (verb.equals("recv") && m.group(2).equals("receive")))
            && (m.group(3).contains(pool + "/")
                || (verb.equals("send") && m.group(3).matches("(.* )?-t .*")))) {
          killed.add(m.group(1));
        }
      }
      if (!killed.isEmpty()) {
        var argv = new ArrayList<String>(List.of("kill", "-9"));
        argv.addAll(killed);
        // (a process that ended meanwhile makes kill fail: what was killed is what matters)
        guest.exec(argv.toArray(String[]::new));
      }
      return killed;
    }

    @Override
    public String resumeToken(DatasetPath fs) {
      var r = guest.zfs("get", "-H", "-p", "-o", "value", "receive_resume_token", fs.toString());
      if (r.status() != 0) {
        return "";
      }
      var t = r.out().strip();
      return t.equals("-") ? "" : t;
    }

    @Override
    public long streamBytes(String... sendArgs) {
      var cmd = new StringBuilder("set -o pipefail 2>/dev/null; zfs send");
      for (var a : sendArgs) {
        cmd.append(" '").append(a).append('\'');
      }
      cmd.append(" | wc -c");
      return Long.parseLong(guest.exec("bash", "-c", cmd.toString()).ok().strip());
    }

    @Override
    public void close() {
      try {
        guest.destroyPoolIfExists(DST);
      } finally {
        guest.destroyPoolIfExists(SRC);
      }
    }
  }
}
