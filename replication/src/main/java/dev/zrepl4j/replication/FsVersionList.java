package dev.zrepl4j.replication;

import java.util.List;

/** The versions of one filesystem (sender's namespace), ordered by createtxg. */
public record FsVersionList(String filesystem, List<FsVersion> versions) {
  public FsVersionList {
    versions = List.copyOf(versions);
  }
}
