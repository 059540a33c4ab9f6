package dev.zrepl4j.rpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.rpc.TestApi.Req;
import dev.zrepl4j.rpc.TestApi.Resp;
import java.io.IOException;
import java.io.InputStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Bulk streams whose source is a channel (zfs send's pipe) and bodies read as channels into direct
 * buffers (into zfs receive's pipe): over TCP and Unix sockets they skip the heap (socket channel
 * fast paths); over the other transports the same calls go through heap arrays. Both must carry the
 * same bytes, end the same way and fail the same way.
 */
class DirectBufferTest {
  private static final int[] SIZES = {
    0, 1, 65_536, 4 * 1024 * 1024, 8 * 1024 * 1024 + 3, 9_000_001
  };

  /** Whether channel sources keep their direct path: socket channels, and in-process calls. */
  private static boolean direct(Fixture.Kind kind) {
    return kind != Fixture.Kind.STREAMS;
  }

  /** Channel sources are read without heap arrays exactly where the transport is a channel. */
  private static void checkPaths(Fixture.Kind kind, long heapReadsBefore) {
    long heapReads = TestApi.HEAP_READS_OF_CHANNELS.get() - heapReadsBefore;
    if (direct(kind)) {
      assertThat(heapReads).as("heap reads of channel sources over " + kind).isZero();
    } else {
      assertThat(heapReads).as("heap reads of channel sources over " + kind).isPositive();
    }
  }

  @ParameterizedTest
  @EnumSource(Fixture.Kind.class)
  void channelResponsesArriveIntactReadEitherWay(Fixture.Kind kind) throws Exception {
    long before = TestApi.HEAP_READS_OF_CHANNELS.get();
    try (var f = new Fixture(kind)) {
      for (int n : SIZES) {
        try (InputStream in = f.client.callStream("t.bytesChannel", new Req("", n))) {
          assertThat(TestApi.checkPatternDirect(in)).as("direct n=%d", n).isEqualTo(n);
        }
        try (InputStream in = f.client.callStream("t.bytes", new Req("", n))) {
          assertThat(TestApi.checkPatternDirect(in)).as("heap source n=%d", n).isEqualTo(n);
        }
      }
    }
    checkPaths(kind, before);
  }

  @ParameterizedTest
  @EnumSource(Fixture.Kind.class)
  void channelBodiesArriveIntactReadEitherWay(Fixture.Kind kind) throws Exception {
    long before = TestApi.HEAP_READS_OF_CHANNELS.get();
    try (var f = new Fixture(kind)) {
      for (int n : SIZES) {
        Resp direct =
            f.client.callWithBody(
                "t.uploadDirect",
                new Req("d", 0),
                TestApi.patternChannel(n, Long.MAX_VALUE),
                Resp.class);
        assertThat(direct.count()).as("channel body read direct, n=%d", n).isEqualTo(n);
        if (kind == Fixture.Kind.LOCAL) {
          continue; // an in-process call hands the body over as it is: the handler reads it
        }
        Resp heap =
            f.client.callWithBody(
                "t.upload", new Req("h", 0), TestApi.patternChannel(n, Long.MAX_VALUE), Resp.class);
        assertThat(heap.count()).as("channel body read by heap, n=%d", n).isEqualTo(n);
        Resp mixed =
            f.client.callWithBody(
                "t.uploadDirect",
                new Req("m", 0),
                TestApi.patternStream(n, Long.MAX_VALUE),
                Resp.class);
        assertThat(mixed.count()).as("heap body read direct, n=%d", n).isEqualTo(n);
      }
    }
    checkPaths(kind, before);
  }

  @ParameterizedTest
  @EnumSource(
      value = Fixture.Kind.class,
      names = {"TCP", "UNIX", "STREAMS"})
  void aChannelResponseThatFailsMidwaySurfacesTheServersErrorAndTheConnectionStaysUsable(
      Fixture.Kind kind) throws Exception {
    try (var f = new Fixture(kind)) {
      f.assertFailsMidwayAndStaysUsable("t.failingChannel", TestApi::checkPatternDirect);
    }
  }

  @ParameterizedTest
  @EnumSource(
      value = Fixture.Kind.class,
      names = {"TCP", "UNIX", "STREAMS"})
  void aChannelBodyThatFailsMidwayFailsTheCallAndTheServersRead(Fixture.Kind kind)
      throws Exception {
    TestApi.UPLOAD_FAILURE.set(null);
    try (var f = new Fixture(kind)) {
      assertThatThrownBy(
              () ->
                  f.client.callWithBody(
                      "t.uploadDirect",
                      new Req("x", 0),
                      TestApi.patternChannel(Long.MAX_VALUE, 3_000_000),
                      Resp.class))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("zfs send: boom at 3000000");
      // the server's read of the body failed with the client's reason (never a short body)
      var deadline = System.nanoTime() + 5_000_000_000L;
      while (TestApi.UPLOAD_FAILURE.get() == null && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertThat(TestApi.UPLOAD_FAILURE.get())
          .isNotNull()
          .hasMessageContaining("zfs send: boom at 3000000");
    }
  }

  @ParameterizedTest
  @EnumSource(
      value = Fixture.Kind.class,
      names = {"TCP", "UNIX", "STREAMS"})
  void aServerThatAnswersEarlyStopsAChannelBody(Fixture.Kind kind) throws Exception {
    try (var f = new Fixture(kind)) {
      assertThatThrownBy(
              () ->
                  f.client.callWithBody(
                      "t.uploadFailing",
                      new Req("", 1000),
                      TestApi.patternChannel(200_000_000, Long.MAX_VALUE),
                      Resp.class))
          .isInstanceOf(RemoteException.class)
          .hasMessage("zfs recv: cannot receive: destination modified");
      assertThat(f.client.call("t.hello", new Req("still", 1), Resp.class).text())
          .isEqualTo("hi still");
    }
  }
}
