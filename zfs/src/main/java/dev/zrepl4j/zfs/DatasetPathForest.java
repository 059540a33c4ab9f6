package dev.zrepl4j.zfs;

import java.util.ArrayList;
import java.util.List;

/**
 * A forest of dataset paths, walked top-down (seed §2.7): roots in insertion order, children in
 * insertion order, each node once; nodes that were only created as intermediate gaps are visited
 * with {@code filledIn = true}. Not thread-safe.
 */
public final class DatasetPathForest {

  /** Receives each node of a walk; returning false skips that node's subtree. */
  @FunctionalInterface
  public interface Visitor {
    boolean visit(VisitedNode node);
  }

  /**
   * One node of a walk.
   *
   * @param path the full path of the node
   * @param filledIn true if the path was not added itself but only lies between added paths
   */
  public record VisitedNode(DatasetPath path, boolean filledIn) {}

  private static final class Node {
    final String component;
    boolean added;
    final List<Node> children = new ArrayList<>();

    Node(String component) {
      this.component = component;
    }

    Node child(String c) {
      for (var ch : children) {
        if (ch.component.equals(c)) {
          return ch;
        }
      }
      var ch = new Node(c);
      children.add(ch);
      return ch;
    }
  }

  private final Node root = new Node("");

  /** Adds {@code path} (and fills in its ancestors); the root path is ignored. */
  public DatasetPathForest add(DatasetPath path) {
    if (path.isEmpty()) {
      return this;
    }
    var n = root;
    for (var c : path.components()) {
      n = n.child(c);
    }
    n.added = true;
    return this;
  }

  /** Visits the nodes in pre-order. */
  public void walkTopDown(Visitor visitor) {
    for (var r : root.children) {
      walk(r, new ArrayList<>(), visitor);
    }
  }

  private static void walk(Node n, List<String> parent, Visitor visitor) {
    var components = new ArrayList<>(parent);
    components.add(n.component);
    if (!visitor.visit(new VisitedNode(new DatasetPath(components), !n.added))) {
      return;
    }
    for (var c : n.children) {
      walk(c, components, visitor);
    }
  }
}
