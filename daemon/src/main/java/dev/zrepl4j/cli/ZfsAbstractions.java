package dev.zrepl4j.cli;

import dev.zrepl4j.replication.ZreplNames;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import dev.zrepl4j.zfs.FilesystemVersion.FullName;
import dev.zrepl4j.zfs.Zfs;
import dev.zrepl4j.zfs.ZfsFeature;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Semaphore;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * The holds and bookmarks that zrepl and zrepl4j put on ZFS (zrepl's "abstractions"), recognized by
 * their exact names only: listing, zrepl's staleness rule, releasing. Nothing else is ever touched.
 */
final class ZfsAbstractions {
  private ZfsAbstractions() {}

  /** zrepl's abstraction types (their names as zrepl spells them), and zrepl4j's cursor hold. */
  enum Type {
    STEP_BOOKMARK("step-bookmark", false),
    STEP_HOLD("step-hold", true),
    LAST_RECEIVED_HOLD("last-received-hold", true),
    REPLICATION_CURSOR_BOOKMARK_V1("replication-cursor-bookmark-v1", false),
    REPLICATION_CURSOR_BOOKMARK_V2("replication-cursor-bookmark-v2", false),
    TENTATIVE_REPLICATION_CURSOR_BOOKMARK("tentative-replication-cursor-bookmark-v2", false),
    /** zrepl4j's replication cursor where ZFS has no bookmarks (zfs-fuse): a hold. */
    REPLICATION_CURSOR_HOLD("replication-cursor-hold", true);

    final String label;
    final boolean hold;

    Type(String label, boolean hold) {
      this.label = label;
      this.hold = hold;
    }

    static Type parse(String label) {
      for (var t : values()) {
        if (t.label.equals(label)) {
          return t;
        }
      }
      throw new IllegalArgumentException(
          "unknown abstraction type '"
              + label
              + "' (use "
              + String.join(", ", EnumSet.allOf(Type.class).stream().map(t -> t.label).toList())
              + ")");
    }

    /** The hold tag of this type for {@code job} (hold types only). */
    String tag(String job) {
      return switch (this) {
        case STEP_HOLD -> ZreplNames.stepHoldTag(job);
        case LAST_RECEIVED_HOLD -> ZreplNames.lastReceivedHoldTag(job);
        case REPLICATION_CURSOR_HOLD -> ZreplNames.cursorHoldTag(job);
        default -> throw new IllegalStateException(label + " is no hold");
      };
    }
  }

  /**
   * One hold or bookmark.
   *
   * @param version the bookmark, or the held snapshot
   * @param job the job it belongs to (null: zrepl's v1 cursor, which has none)
   * @param tag the hold's tag (holds only)
   */
  record Abstraction(
      Type type, FilesystemVersion version, @Nullable String job, @Nullable String tag) {
    DatasetPath filesystem() {
      return version.filesystem();
    }

    long createTxg() {
      return version.createTxg();
    }

    /** As zrepl prints it: {@code TYPE fs#bookmark} or {@code TYPE "TAG" on fs@snapshot}. */
    @Override
    public String toString() {
      return tag == null
          ? type.label + " " + version.fullName()
          : type.label + " \"" + tag + "\" on " + version.fullName();
    }

    /** The JSON of {@code --json}: zrepl's fields. */
    Map<String, Object> json() {
      var m = new LinkedHashMap<String, Object>();
      m.put("Type", type.label);
      m.put("FS", filesystem().toString());
      m.put("Name", version.name());
      m.put("FullPath", version.fullName());
      m.put("JobID", job);
      m.put("CreateTXG", Long.toUnsignedString(createTxg()));
      m.put("Guid", version.guidString());
      if (tag != null) {
        m.put("Tag", tag);
      }
      m.put("String", toString());
      return m;
    }

    /** Releases the hold or destroys the bookmark. */
    void destroy(Zfs zfs) throws IOException {
      var full = new FullName(filesystem(), version.type(), version.name());
      if (tag != null) {
        zfs.release(tag, List.of(full));
      } else {
        zfs.destroyVersions(List.of(full));
      }
    }
  }

  /**
   * What to list.
   *
   * @param job only this job's (and jobless v1 cursors, as zrepl), if given
   * @param filesystems which filesystems
   * @param concurrency at most this many {@code zfs holds} at once
   */
  record Query(
      Set<Type> types, Optional<String> job, Predicate<DatasetPath> filesystems, int concurrency) {
    Query {
      types = types.isEmpty() ? EnumSet.allOf(Type.class) : EnumSet.copyOf(types);
      if (concurrency < 1) {
        throw new IllegalArgumentException("--concurrency " + concurrency + ": at least 1");
      }
      job.ifPresent(
          j ->
              ZreplNames.jobProblem(j)
                  .ifPresent(
                      p -> {
                        throw new IllegalArgumentException("--job '" + j + "': " + p);
                      }));
    }

    boolean wantsHolds() {
      return types.stream().anyMatch(t -> t.hold);
    }

    boolean matches(Abstraction a) {
      return types.contains(a.type())
          && (job.isEmpty() || a.job() == null || a.job().equals(job.get()));
    }
  }

  /**
   * A listing.
   *
   * @param found the abstractions, by filesystem and createtxg
   * @param heldUnlisted where ZFS cannot list hold tags (zfs-fuse): the snapshots that carry holds
   *     (none elsewhere)
   */
  record Listing(List<Abstraction> found, List<FilesystemVersion> heldUnlisted) {}

  static Listing list(Zfs zfs, Query q) throws IOException, InterruptedException {
    var fss = zfs.listFilesystems(List.of(), q.filesystems());
    var versions = zfs.listVersions(fss);
    var found = new ArrayList<Abstraction>();
    var held = new ArrayList<FilesystemVersion>();
    for (var fs : fss) {
      for (var v : versions.getOrDefault(fs, List.of())) {
        if (v.isSnapshot()) {
          if (q.wantsHolds() && v.userRefs() != 0) {
            held.add(v);
          }
          continue;
        }
        bookmark(v).filter(q::matches).ifPresent(found::add);
      }
    }
    var heldUnlisted = new ArrayList<FilesystemVersion>();
    if (!held.isEmpty()) {
      if (zfs.capabilities().has(ZfsFeature.HOLDS_LISTING)) {
        found.addAll(holds(zfs, held, q));
      } else {
        heldUnlisted.addAll(held);
      }
    }
    found.sort(
        Comparator.comparing((Abstraction a) -> a.filesystem().toString())
            .thenComparing(Abstraction::createTxg, Long::compareUnsigned)
            .thenComparing(a -> a.type().label));
    return new Listing(List.copyOf(found), List.copyOf(heldUnlisted));
  }

  /** The bookmark's abstraction if its name is one of ours and, where it has one, the guid fits. */
  static Optional<Abstraction> bookmark(FilesystemVersion v) {
    var name = v.name();
    if (name.equals(ZreplNames.V1_CURSOR_BOOKMARK)) {
      return Optional.of(new Abstraction(Type.REPLICATION_CURSOR_BOOKMARK_V1, v, null, null));
    }
    record Parser(
        Type type, java.util.function.Function<String, Optional<ZreplNames.GuidAndJob>> p) {}
    for (var p :
        List.of(
            new Parser(Type.STEP_BOOKMARK, ZreplNames::parseStepBookmark),
            new Parser(Type.REPLICATION_CURSOR_BOOKMARK_V2, ZreplNames::parseCursor),
            new Parser(
                Type.TENTATIVE_REPLICATION_CURSOR_BOOKMARK, ZreplNames::parseTentativeCursor))) {
      var g = p.p().apply(name);
      // a guid that does not fit: tinkered with, not ours to touch (as zrepl)
      if (g.isPresent() && g.get().guid() == v.guid()) {
        return Optional.of(new Abstraction(p.type(), v, g.get().job(), null));
      }
    }
    return Optional.empty();
  }

  /** The hold's abstraction if its tag is one of ours. */
  static Optional<Abstraction> hold(FilesystemVersion snapshot, String tag) {
    var step = ZreplNames.parseStepHold(tag);
    if (step.isPresent()) {
      return Optional.of(new Abstraction(Type.STEP_HOLD, snapshot, step.get(), tag));
    }
    var last = ZreplNames.parseLastReceivedHold(tag);
    if (last.isPresent()) {
      return Optional.of(new Abstraction(Type.LAST_RECEIVED_HOLD, snapshot, last.get(), tag));
    }
    var cursor = ZreplNames.parseCursorHold(tag);
    return cursor.map(j -> new Abstraction(Type.REPLICATION_CURSOR_HOLD, snapshot, j, tag));
  }

  private static List<Abstraction> holds(Zfs zfs, List<FilesystemVersion> held, Query q)
      throws IOException, InterruptedException {
    var byFs = new LinkedHashMap<DatasetPath, List<FilesystemVersion>>();
    for (var v : held) {
      byFs.computeIfAbsent(v.filesystem(), k -> new ArrayList<>()).add(v);
    }
    var limit = new Semaphore(q.concurrency());
    var out = new ArrayList<Abstraction>();
    var failures = new ArrayList<IOException>();
    var threads = new ArrayList<Thread>();
    for (var group : byFs.values()) {
      threads.add(
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      limit.acquire();
                    } catch (InterruptedException e) {
                      return;
                    }
                    try {
                      var byName = new LinkedHashMap<String, FilesystemVersion>();
                      var names = new ArrayList<FullName>();
                      for (var v : group) {
                        byName.put(v.name(), v);
                        names.add(new FullName(v.filesystem(), v.type(), v.name()));
                      }
                      var got = new ArrayList<Abstraction>();
                      for (var h : zfs.listHolds(names)) {
                        var v = byName.get(h.snapshot().name());
                        if (v != null) {
                          hold(v, h.tag()).filter(q::matches).ifPresent(got::add);
                        }
                      }
                      synchronized (out) {
                        out.addAll(got);
                      }
                    } catch (IOException e) {
                      synchronized (out) {
                        failures.add(e);
                      }
                    } finally {
                      limit.release();
                    }
                  }));
    }
    for (var t : threads) {
      t.join();
    }
    if (!failures.isEmpty()) {
      throw failures.getFirst();
    }
    return out;
  }

  /**
   * zrepl's staleness, per filesystem and job: of the replication cursors and the last-received
   * holds all but the newest are stale; step holds and step bookmarks at or before the newest
   * cursor are stale, and without a cursor all but the newest step (an initial replication may
   * still need it). Tentative cursors, zrepl's v1 cursor and zrepl4j's cursor holds are never stale
   * (they are moved by the jobs themselves).
   *
   * @return the stale ones, in the order of {@code all}
   */
  static List<Abstraction> stale(List<Abstraction> all) {
    record Key(DatasetPath fs, String job) {}
    var byKey = new LinkedHashMap<Key, List<Abstraction>>();
    for (var a : all) {
      if (a.job() != null) {
        byKey.computeIfAbsent(new Key(a.filesystem(), a.job()), k -> new ArrayList<>()).add(a);
      }
    }
    var stale = new java.util.HashSet<Abstraction>();
    for (var group : byKey.values()) {
      for (var moved : List.of(Type.REPLICATION_CURSOR_BOOKMARK_V2, Type.LAST_RECEIVED_HOLD)) {
        var of = group.stream().filter(a -> a.type() == moved).toList();
        var newest = newest(of);
        of.stream().filter(a -> a != newest.orElse(null)).forEach(stale::add);
      }
      var cursor =
          newest(
              group.stream().filter(a -> a.type() == Type.REPLICATION_CURSOR_BOOKMARK_V2).toList());
      var steps =
          group.stream()
              .filter(a -> a.type() == Type.STEP_HOLD || a.type() == Type.STEP_BOOKMARK)
              .toList();
      if (cursor.isPresent()) {
        long until = cursor.get().createTxg();
        steps.stream()
            .filter(a -> Long.compareUnsigned(a.createTxg(), until) <= 0)
            .forEach(stale::add);
      } else {
        var newestStep = newest(steps);
        if (newestStep.isPresent()) {
          long until = newestStep.get().createTxg();
          steps.stream()
              .filter(a -> Long.compareUnsigned(a.createTxg(), until) < 0)
              .forEach(stale::add);
        }
      }
    }
    return all.stream().filter(stale::contains).toList();
  }

  private static Optional<Abstraction> newest(List<Abstraction> l) {
    return l.stream().max(Comparator.comparing(Abstraction::createTxg, Long::compareUnsigned));
  }
}
