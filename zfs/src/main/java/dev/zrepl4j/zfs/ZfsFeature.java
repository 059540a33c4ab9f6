package dev.zrepl4j.zfs;

/** Features that distinguish OpenZFS 2.x from the older ZFS of zfs-fuse (pool version 23). */
public enum ZfsFeature {
  LIST_PARSABLE("parsable numbers in `zfs list -p`"),
  BOOKMARKS("bookmarks (`zfs bookmark`, fs#name)"),
  RESUMABLE_SEND_RECEIVE(
      "resumable send/receive (`zfs recv -s`, `zfs send -t`, receive_resume_token)"),
  RECEIVE_ABORT("aborting a partial receive (`zfs recv -A`)"),
  SEND_RAW("raw send (`zfs send -w`)"),
  SEND_COMPRESSED("compressed send (`zfs send -c`)"),
  SEND_LARGE_BLOCKS("large-block send (`zfs send -L`)"),
  SEND_EMBEDDED("embedded-data send (`zfs send -e`)"),
  SEND_DRY_RUN("send size estimate (`zfs send -nvP`)"),
  RECEIVE_PROPERTY_OVERRIDE("receive property overrides (`zfs recv -o/-x`)"),
  MULTI_SNAPSHOT("atomic multi-dataset snapshot (`zfs snapshot a@x b@x`)"),
  COMMA_DESTROY("batched snapshot destroy (`zfs destroy fs@a,b,c`)"),
  HOLDS_LISTING("listing hold tags (`zfs holds`)");

  private final String description;

  ZfsFeature(String description) {
    this.description = description;
  }

  /** What the feature is, with the command that needs it. */
  public String description() {
    return description;
  }
}
