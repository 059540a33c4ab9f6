package dev.zrepl4j.replication;

import java.util.List;

/** Names several filesystems, in the sender's namespace. */
public record FsListRequest(List<String> filesystems) {
  public FsListRequest {
    filesystems = List.copyOf(filesystems);
  }
}
