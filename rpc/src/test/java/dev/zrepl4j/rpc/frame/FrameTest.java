package dev.zrepl4j.rpc.frame;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ProtocolException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class FrameTest {
  static final int MIB4 = 4 * 1024 * 1024;

  /** Returns at most one byte per read and refuses zero-length reads (the seed's defect). */
  static final class OneByteAtATime extends FilterInputStream {
    OneByteAtATime(InputStream in) {
      super(in);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) {
        throw new AssertionError("zero-length read");
      }
      return super.read(b, off, 1);
    }
  }

  /** Refuses zero-length reads but otherwise passes through. */
  static final class NoZeroReads extends FilterInputStream {
    NoZeroReads(InputStream in) {
      super(in);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) {
        throw new AssertionError("zero-length read");
      }
      return super.read(b, off, len);
    }
  }

  /** Counts write calls. */
  static final class Counting extends OutputStream {
    final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int writes;

    @Override
    public void write(int b) {
      writes++;
      bytes.write(b);
    }

    @Override
    public void write(byte[] b, int off, int len) {
      writes++;
      bytes.write(b, off, len);
    }
  }

  static byte[] writeStream(byte[] payload, List<Integer> chunks, int bufferSize, byte[] trailer)
      throws IOException {
    var out = new ByteArrayOutputStream();
    var w = new FrameWriter(out, bufferSize);
    try (var s = w.dataStream(trailer)) {
      int off = 0;
      int i = 0;
      while (off < payload.length) {
        int n = Math.min(payload.length - off, Math.max(1, chunks.get(i++ % chunks.size())));
        s.write(payload, off, n);
        off += n;
      }
    }
    return out.toByteArray();
  }

  static byte[] readStream(InputStream wire, int bufferSize, int readSize, byte[] expectTrailer)
      throws IOException {
    var r = new FrameReader(wire, bufferSize);
    var in = r.dataStream(p -> assertThat(p).isEqualTo(expectTrailer));
    var out = new ByteArrayOutputStream();
    byte[] b = new byte[readSize];
    int n;
    while ((n = in.read(b, 0, b.length)) >= 0) {
      out.write(b, 0, n);
    }
    assertThat(in.isComplete()).isTrue();
    assertThat(r.atMessageBoundary()).isTrue();
    return out.toByteArray();
  }

  @Provide
  Arbitrary<byte[]> payloads() {
    return Arbitraries.bytes().array(byte[].class).ofMinSize(0).ofMaxSize(70_000);
  }

  @Property(tries = 200)
  void dataStreamsRoundTripForAnyPayloadAndChunking(
      @ForAll("payloads") byte[] payload,
      @ForAll List<@IntRange(min = 1, max = 20_000) Integer> chunks,
      @ForAll @IntRange(min = 4200, max = 40_000) int writeBuffer,
      @ForAll @IntRange(min = 64, max = 9000) int readBuffer,
      @ForAll @IntRange(min = 1, max = 5000) int readSize,
      @ForAll boolean oneByteAtATime)
      throws IOException {
    if (chunks.isEmpty()) {
      chunks = List.of(1000);
    }
    byte[] trailer = {'{', '}'};
    byte[] wire = writeStream(payload, chunks, writeBuffer, trailer);
    InputStream src = new ByteArrayInputStream(wire);
    src = oneByteAtATime ? new OneByteAtATime(src) : new NoZeroReads(src);
    assertThat(readStream(src, readBuffer, readSize, trailer)).isEqualTo(payload);
  }

  /** A channel onto a byte array stream that takes at most {@code max} bytes per write. */
  static final class ShortWrites implements GatheringByteChannel {
    private final ByteArrayOutputStream out;
    private final int max;

    ShortWrites(ByteArrayOutputStream out, int max) {
      this.out = out;
      this.max = max;
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) {
      long total = 0;
      int budget = max;
      for (int i = offset; i < offset + length && budget > 0; i++) {
        int n = Math.min(budget, srcs[i].remaining());
        byte[] b = new byte[n];
        srcs[i].get(b);
        out.write(b, 0, n);
        budget -= n;
        total += n;
      }
      return total;
    }

    @Override
    public long write(ByteBuffer[] srcs) {
      return write(srcs, 0, srcs.length);
    }

    @Override
    public int write(ByteBuffer src) {
      return (int) write(new ByteBuffer[] {src});
    }

    @Override
    public boolean isOpen() {
      return true;
    }

    @Override
    public void close() {}
  }

  @Property(tries = 200)
  void directBuffersWriteAndReadTheSameMessages(
      @ForAll("payloads") byte[] payload,
      @ForAll List<@IntRange(min = 1, max = 40_000) Integer> chunks,
      @ForAll @IntRange(min = 4200, max = 40_000) int writeBuffer,
      @ForAll @IntRange(min = 1, max = 100_000) int maxPerWrite,
      @ForAll @IntRange(min = 64, max = 100_000) int readBuffer,
      @ForAll @IntRange(min = 1, max = 50_000) int readSize,
      @ForAll boolean oneByteAtATime)
      throws IOException {
    if (chunks.isEmpty()) {
      chunks = List.of(30_000);
    }
    byte[] trailer = {'{', '}'};
    byte[] heapWire = writeStream(payload, chunks, writeBuffer, trailer);

    var out = new ByteArrayOutputStream();
    var w = new FrameWriter(out, new ShortWrites(out, maxPerWrite), writeBuffer);
    try (var s = w.dataStream(trailer)) {
      int off = 0;
      int i = 0;
      while (off < payload.length) {
        int n = Math.min(payload.length - off, Math.max(1, chunks.get(i++ % chunks.size())));
        var direct = ByteBuffer.allocateDirect(n).put(payload, off, n).flip();
        s.write(direct);
        assertThat(direct.hasRemaining()).isFalse();
        off += n;
      }
    }
    // direct payloads of 32 KiB and more are frames of their own: other frame boundaries than the
    // heap path's, the same message
    byte[] directWire = out.toByteArray();
    assertThat(readStream(new ByteArrayInputStream(directWire), readBuffer, readSize, trailer))
        .as("direct wire read by the heap reader")
        .isEqualTo(payload);
    int small = Math.min(32 * 1024, writeBuffer / 2); // coalesced by both paths
    if (chunks.stream().allMatch(c -> c < small)) {
      assertThat(directWire)
          .as("small direct buffers are framed like heap arrays")
          .isEqualTo(heapWire);
    }

    InputStream src = new ByteArrayInputStream(oneByteAtATime ? heapWire : directWire);
    InputStream wire = oneByteAtATime ? new OneByteAtATime(src) : new NoZeroReads(src);
    var r =
        new FrameReader(
            wire,
            dst -> {
              // the direct source reads the same stream, a little at a time
              byte[] b = new byte[Math.min(dst.remaining(), oneByteAtATime ? 1 : 7_777)];
              int n = wire.read(b, 0, b.length);
              if (n > 0) {
                dst.put(b, 0, n);
              }
              return n;
            },
            readBuffer);
    var in = r.dataStream(p -> assertThat(p).isEqualTo(trailer));
    var got = new ByteArrayOutputStream();
    var buf = ByteBuffer.allocateDirect(readSize);
    while (in.read(buf.clear()) >= 0) {
      buf.flip();
      byte[] b = new byte[buf.remaining()];
      buf.get(b);
      got.write(b, 0, b.length);
    }
    assertThat(in.isComplete()).isTrue();
    assertThat(r.atMessageBoundary()).isTrue();
    assertThat(got.toByteArray()).isEqualTo(payload);
  }

  /**
   * A zfs stream's frames (whatever a pipe read gave: mostly 64 KiB to 1 MiB) read into a direct
   * buffer over a channel: almost all of it goes straight from the channel into that buffer. The
   * reader buffer of 1 MiB reads ahead only 16 KiB after a frame header; before, it dragged up to 1
   * MiB of the next payload through its heap array and copied it from there.
   */
  @Test
  void streamFramesOverAChannelSkipTheHeapBuffer() throws IOException {
    var rnd = new java.util.Random(5);
    byte[] payload = new byte[8 << 20];
    rnd.nextBytes(payload);
    var out = new ByteArrayOutputStream();
    var w = new FrameWriter(out, new ShortWrites(out, Integer.MAX_VALUE), 1 << 20);
    try (var s = w.dataStream(null)) {
      int off = 0;
      while (off < payload.length) {
        int n = Math.min(payload.length - off, 64 * 1024 + rnd.nextInt(400 * 1024));
        s.write(ByteBuffer.allocateDirect(n).put(payload, off, n).flip());
        off += n;
      }
    }
    var wire = new ByteArrayInputStream(out.toByteArray());
    long[] viaHeap = new long[1];
    InputStream heapSide =
        new InputStream() {
          @Override
          public int read() {
            throw new AssertionError("single-byte read");
          }

          @Override
          public int read(byte[] b, int off, int len) {
            int n = wire.read(b, off, len);
            viaHeap[0] += Math.max(n, 0);
            return n;
          }
        };
    var r =
        new FrameReader(
            heapSide,
            dst -> {
              byte[] b = new byte[dst.remaining()];
              int n = wire.read(b, 0, b.length);
              if (n > 0) {
                dst.put(b, 0, n);
              }
              return n;
            },
            1 << 20);
    var in = r.dataStream(null);
    var got = new ByteArrayOutputStream();
    var buf = ByteBuffer.allocateDirect(1 << 20);
    while (in.read(buf.clear()) >= 0) {
      buf.flip();
      byte[] b = new byte[buf.remaining()];
      buf.get(b);
      got.write(b, 0, b.length);
    }
    assertThat(got.toByteArray()).isEqualTo(payload);
    assertThat(viaHeap[0]).as("bytes read through the heap buffer").isLessThan(payload.length / 8);
  }

  /**
   * Issue 17: a connection that only makes calls (or has said nothing yet) holds 16 KiB per
   * direction, not the 1 MiB + 256 KiB a stream needs; the buffers grow at the first bulk data. A
   * sink flooded with 64 silent connections per client held ~120 MiB of buffers before.
   */
  @Test
  void buffersStaySmallForCallsAndGrowForAStream() throws IOException {
    var out = new ByteArrayOutputStream();
    var w = new FrameWriter(out, 1 << 20);
    w.headerMessage("{\"Endpoint\":\"x\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    w.dataMessage(new byte[3000], 0, 3000);
    w.dataMessage(new byte[100_000], 0, 100_000); // a large call body: still not a stream
    w.flush();
    assertThat(w.bufferSize()).as("writer after calls").isEqualTo(FrameWriter.INITIAL_SIZE);
    var r = new FrameReader(new ByteArrayInputStream(out.toByteArray()), 256 * 1024);
    assertThat(r.readHeaderMessage()).isNotEmpty();
    assertThat(r.readDataMessage(1 << 20)).hasSize(3000);
    assertThat(r.readDataMessage(1 << 20)).hasSize(100_000);
    assertThat(r.bufferSize()).as("reader after calls").isEqualTo(FrameReader.INITIAL_SIZE);

    var bulk = new ByteArrayOutputStream();
    var w2 = new FrameWriter(bulk, 1 << 20);
    byte[] payload = new byte[4 << 20];
    new java.util.Random(3).nextBytes(payload);
    try (var s = w2.dataStream(null)) {
      for (int off = 0; off < payload.length; off += 1000) {
        s.write(payload, off, Math.min(1000, payload.length - off));
      }
    }
    assertThat(w2.bufferSize()).as("writer after a stream").isEqualTo(1 << 20);
    var r2 = new FrameReader(new ByteArrayInputStream(bulk.toByteArray()), 256 * 1024);
    var got = new ByteArrayOutputStream();
    var in = r2.dataStream(null);
    byte[] b = new byte[1000];
    int n;
    while ((n = in.read(b)) >= 0) {
      got.write(b, 0, n);
    }
    assertThat(got.toByteArray()).isEqualTo(payload);
    assertThat(r2.bufferSize()).as("reader after a stream").isEqualTo(256 * 1024);
  }

  @Property(tries = 100)
  void wholeMessagesRoundTrip(@ForAll("payloads") byte[] payload, @ForAll boolean oneByte)
      throws IOException {
    var out = new ByteArrayOutputStream();
    var w = new FrameWriter(out, 8192);
    w.headerMessage("{\"a\":1}\n".getBytes());
    w.dataMessage(payload, 0, payload.length);
    w.flush();
    InputStream src = new ByteArrayInputStream(out.toByteArray());
    if (oneByte) {
      src = new OneByteAtATime(src);
    }
    var r = new FrameReader(src, 64);
    assertThat(new String(r.readHeaderMessage())).isEqualTo("{\"a\":1}\n");
    assertThat(r.readDataMessage(1 << 20)).isEqualTo(payload);
    assertThatThrownBy(r::readHeaderMessage).isInstanceOf(EOFException.class);
  }

  @Test
  void bodyOfExactlyFourMiBInTheSeedsFramingIsReadWithoutAZeroLengthRead() throws IOException {
    // the seed writes k*4 MiB as k full frames plus an empty final frame; its reader then made a
    // zero-length read (DEFECT: deadlock on transports where that blocks)
    byte[] payload = new byte[MIB4];
    new Random(1).nextBytes(payload);
    var wire = new ByteArrayOutputStream();
    wire.writeBytes(new byte[] {2, 0, 0, 0, 0x40, 0});
    wire.writeBytes(payload);
    wire.writeBytes(new byte[] {2, 1, 0, 0, 0, 0});
    var r = new FrameReader(new NoZeroReads(new ByteArrayInputStream(wire.toByteArray())), 1 << 16);
    assertThat(r.dataStream(null).readAllBytes()).isEqualTo(payload);
    assertThat(r.atMessageBoundary()).isTrue();
    // ours: one final frame of 4 MiB
    var out = new ByteArrayOutputStream();
    var w = new FrameWriter(out, 1 << 20);
    w.dataMessage(payload, 0, payload.length);
    w.flush();
    assertThat(Arrays.copyOfRange(out.toByteArray(), 0, 6)).containsExactly(2, 1, 0, 0, 0x40, 0);
    assertThat(out.size()).isEqualTo(6 + MIB4);
  }

  /** Bytes allocated by this thread while {@code read} runs. */
  private static long allocatedBy(IoRunnable read) throws IOException {
    var mx =
        (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
    long before = mx.getCurrentThreadAllocatedBytes();
    read.run();
    return mx.getCurrentThreadAllocatedBytes() - before;
  }

  @FunctionalInterface
  private interface IoRunnable {
    void run() throws IOException;
  }

  @Test
  void dataMessageInOneByteFramesCostsLinearAllocation() throws IOException {
    // DEFECT (found writing the fuzz tests' allocation bound): every frame copied the whole
    // message so far, so a 64 KiB body in 1-byte frames allocated and copied 2 GiB, and a 64 MiB
    // body (the default maxJsonBody) would have cost 2^51 bytes of copying
    int n = 64 * 1024;
    var wire = new ByteArrayOutputStream();
    byte[] payload = new byte[n];
    new Random(2).nextBytes(payload);
    for (int i = 0; i < n; i++) {
      wire.writeBytes(new byte[] {2, (byte) (i == n - 1 ? 1 : 0), 1, 0, 0, 0, payload[i]});
    }
    var r = new FrameReader(new ByteArrayInputStream(wire.toByteArray()), 1 << 16);
    byte[][] got = new byte[1][];
    long allocated = allocatedBy(() -> got[0] = r.readDataMessage(64 << 20));
    assertThat(got[0]).isEqualTo(payload);
    // linear: a few dozen bytes per frame (2 GiB before the fix)
    assertThat(allocated).as("bytes allocated for a %d-byte body", n).isLessThan(128L * n);
  }

  @Test
  void emptyHeaderFramesDoNotCopyTheHeader() throws IOException {
    // each empty non-final HEADER frame (6 bytes on the wire) copied up to 4 KiB
    var wire = new ByteArrayOutputStream();
    byte[] json = new byte[4000];
    Arrays.fill(json, (byte) ' ');
    wire.writeBytes(new byte[] {1, 0, (byte) 0xA0, 0x0F, 0, 0});
    wire.writeBytes(json);
    for (int i = 0; i < 10_000; i++) {
      wire.writeBytes(new byte[] {1, 0, 0, 0, 0, 0});
    }
    wire.writeBytes(new byte[] {1, 1, 0, 0, 0, 0});
    var r = new FrameReader(new ByteArrayInputStream(wire.toByteArray()), 1 << 16);
    byte[][] got = new byte[1][];
    long allocated = allocatedBy(() -> got[0] = r.readHeaderMessage());
    assertThat(got[0]).isEqualTo(json);
    assertThat(allocated).isLessThan(1 << 20);
  }

  @Test
  void rejectsFrameLongerThanLimitBeforeReadingIt() {
    byte[] wire = {2, 1, 1, 0, 0x40, 0}; // 4 MiB + 1
    var r = new FrameReader(new ByteArrayInputStream(wire), 1024);
    assertThatThrownBy(() -> r.readDataMessage(Integer.MAX_VALUE))
        .isInstanceOf(ProtocolException.class)
        .hasMessageContaining("frame length 4194305 exceeds limit 4194304");
  }

  @Test
  void rejectsUnknownFrameType() {
    var r = new FrameReader(new ByteArrayInputStream(new byte[] {7, 1, 0, 0, 0, 0}), 1024);
    assertThatThrownBy(r::readHeaderMessage)
        .isInstanceOf(ProtocolException.class)
        .hasMessage("unknown frame type 0x07");
  }

  @Test
  void rejectsFrameOfWrongTypeInsideAMessage() {
    // seed DEFECT: its type check was a no-op; a data frame where a header is expected is an error
    byte[] wire = {2, 1, 2, 0, 0, 0, '{', '}'};
    var r = new FrameReader(new ByteArrayInputStream(wire), 1024);
    assertThatThrownBy(r::readHeaderMessage)
        .isInstanceOf(ProtocolException.class)
        .hasMessage("expected a HEADER frame, got DATA");
    byte[] mixed = {2, 0, 1, 0, 0, 0, 'x', 1, 1, 1, 0, 0, 0, 'y'};
    var r2 = new FrameReader(new ByteArrayInputStream(mixed), 1024);
    assertThatThrownBy(() -> r2.readDataMessage(100))
        .isInstanceOf(ProtocolException.class)
        .hasMessage("expected a DATA frame, got HEADER");
  }

  @Test
  void rejectsHeaderMessageOverFourKiBBeforeReadingIt() {
    byte[] wire = new byte[6 + 4097];
    wire[0] = 1;
    wire[1] = 1;
    wire[2] = 0x01;
    wire[3] = 0x10; // 4097
    var r = new FrameReader(new ByteArrayInputStream(wire), 1024);
    assertThatThrownBy(r::readHeaderMessage)
        .isInstanceOf(ProtocolException.class)
        .hasMessageContaining("header message of more than 4096 bytes");
  }

  @Test
  void rejectsDataMessageOverTheLimitBeforeReadingIt() {
    byte[] wire = {2, 1, (byte) 0xe8, 3, 0, 0}; // 1000 bytes announced, none sent
    var r = new FrameReader(new ByteArrayInputStream(wire), 1024);
    assertThatThrownBy(() -> r.readDataMessage(999))
        .isInstanceOf(ProtocolException.class)
        .hasMessageContaining("data message of more than 999 bytes");
  }

  @Test
  void truncatedFrameIsAnErrorNotAShortMessage() {
    byte[] wire = {2, 1, 10, 0, 0, 0, 1, 2, 3};
    var r = new FrameReader(new ByteArrayInputStream(wire), 1024);
    assertThatThrownBy(() -> r.dataStream(null).readAllBytes()).isInstanceOf(EOFException.class);
    var r2 = new FrameReader(new ByteArrayInputStream(new byte[] {2, 1, 10}), 1024);
    assertThatThrownBy(() -> r2.readDataMessage(100))
        .isInstanceOf(EOFException.class)
        .hasMessageContaining("inside a frame header");
  }

  @Test
  void rstFrameIsReported() {
    var r = new FrameReader(new ByteArrayInputStream(new byte[] {(byte) 0xff, 1, 0, 0, 0, 0}), 64);
    assertThatThrownBy(r::readHeaderMessage)
        .isInstanceOf(ResetException.class)
        .hasMessage("reset frame observed on connection");
  }

  @Test
  void errorTrailerEndsAStreamEarlyWithTheSendersError() throws IOException {
    var out = new ByteArrayOutputStream();
    var w = new FrameWriter(out, 8192);
    var s = w.dataStream(new byte[] {'o', 'k'});
    s.write(new byte[100]);
    s.abort(new byte[] {'b', 'a', 'd'});
    var r = new FrameReader(new ByteArrayInputStream(out.toByteArray()), 64);
    var in =
        r.dataStream(
            p -> {
              throw new IOException("trailer " + new String(p));
            });
    assertThat(in.readNBytes(100)).hasSize(100);
    assertThatThrownBy(in::read).hasMessage("trailer bad");
    assertThat(r.atMessageBoundary()).isTrue();
  }

  @Test
  void keepAliveFramesAreSkippedOnlyAfterNegotiation() throws IOException {
    byte[] wire = {4, 1, 0, 0, 0, 0, 1, 1, 2, 0, 0, 0, '{', '}'};
    var r = new FrameReader(new ByteArrayInputStream(wire), 64);
    assertThatThrownBy(r::readHeaderMessage).isInstanceOf(ProtocolException.class);
    var r2 = new FrameReader(new ByteArrayInputStream(wire), 64);
    r2.allowKeepAlives();
    assertThat(new String(r2.readHeaderMessage())).isEqualTo("{}");
  }

  @Test
  void seedsEmptyHeaderFrameAfterA4096ByteHeaderIsSkipped() throws IOException {
    byte[] big = new byte[4096];
    Arrays.fill(big, (byte) ' ');
    big[0] = '{';
    big[4095] = '}';
    var out = new ByteArrayOutputStream();
    out.writeBytes(new byte[] {1, 1, 0, 0x10, 0, 0});
    out.writeBytes(big);
    out.writeBytes(new byte[] {1, 1, 0, 0, 0, 0}); // the seed's extra empty final frame
    out.writeBytes(new byte[] {2, 1, 1, 0, 0, 0, 'x'});
    var r = new FrameReader(new ByteArrayInputStream(out.toByteArray()), 64);
    assertThat(r.readHeaderMessage()).hasSize(4096);
    assertThat(r.skipSeedEmptyHeaderFrame()).isTrue();
    assertThat(r.readDataMessage(10)).containsExactly('x');
  }

  @Test
  void aSmallCallIsOneWriteNotThreePerFrame() throws IOException {
    // seed DEFECT: it wrote each frame header in three writes and flushed per frame
    var out = new Counting();
    var w = new FrameWriter(out, 1 << 16);
    w.headerMessage("{\"Endpoint\":\"Echo\"}\n".getBytes());
    byte[] body = "{\"Seq\":1}\n".getBytes();
    w.dataMessage(body, 0, body.length);
    w.flush();
    assertThat(out.writes).isEqualTo(1);
  }

  @Test
  void headerMessageOfAtMost4096BytesIsOneFrameWithoutAnExtraEmptyFrame() throws IOException {
    // seed DEFECT: a header of exactly 4096 bytes was followed by a second, empty final frame
    var out = new ByteArrayOutputStream();
    var w = new FrameWriter(out, 1 << 16);
    w.headerMessage(new byte[4096]);
    w.flush();
    assertThat(out.size()).isEqualTo(6 + 4096);
    assertThatThrownBy(() -> w.headerMessage(new byte[4097]))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
