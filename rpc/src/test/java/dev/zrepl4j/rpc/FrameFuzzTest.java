package dev.zrepl4j.rpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.zrepl4j.fuzz.FuzzHarness;
import dev.zrepl4j.rpc.frame.FrameReader;
import dev.zrepl4j.rpc.frame.Limits;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Fuzzes the frame decoder and the header JSON as a server meets them: bytes from a peer, read by
 * the real {@link FrameReader} with the configured limits ({@link RpcOptions#defaults()}), request
 * after request in the order {@link RpcServer} reads them (header message, header JSON, the JSON
 * body or the octet body and its trailer, the hello body; keep-alives allowed after a hello).
 *
 * <p>Property ({@link FuzzHarness}): every input ends in an {@link IOException} with a message (a
 * {@code ProtocolException}, an EOF, a reset, an error trailer) or a clean end of stream; no body
 * is longer than the input; the allocation stays under the reader's buffer, one frame's announced
 * payload ({@link Limits#MAX_PAYLOAD}, allocated when its header is read) and a small multiple of
 * the input. Seeds: {@code src/test/resources/dev/zrepl4j/rpc/FrameFuzzTestInputs}; run
 * scripts/fuzz.sh for the long run.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FrameFuzzTest {
  private static final RpcOptions OPTIONS = RpcOptions.defaults();
  // as Conn sizes its reader
  private static final int BUFFER = Math.min(OPTIONS.bufferSize(), 256 * 1024);

  private final FuzzHarness harness = new FuzzHarness("frame", IOException.class);

  @FuzzTest(maxDuration = "2s")
  @DictionaryEntries({
    "{\"Endpoint\":\"",
    "\",\"DataType\":",
    ",\"Accept\":",
    ",\"Error\":",
    ",\"ErrorMessage\":\"",
    ",\"Code\":\"",
    "zrepl4j.Hello",
    "{\"Version\":1}"
  })
  void requestStream(byte[] input) {
    harness.check(
        BUFFER + Limits.MAX_PAYLOAD + 64L * input.length + 1024 * 1024, () -> readRequests(input));
  }

  /** CI's short pass: the corpus mutated at random (the long run is Jazzer's). */
  @Test
  void survivesMutationsOfItsCorpus() throws Exception {
    harness.mutations(
        FrameFuzzTest.class, "requestStream", FuzzHarness.MUTATIONS, this::requestStream);
  }

  @AfterAll
  void counts() throws IOException {
    harness.close();
  }

  /** Reads requests until the stream ends; returns how many were read whole. */
  static int readRequests(byte[] input) throws IOException {
    var r = new FrameReader(new ByteArrayInputStream(input), BUFFER);
    int requests = 0;
    while (true) {
      byte[] hb;
      try {
        hb = r.readHeaderMessage();
      } catch (EOFException e) {
        if (e.getMessage().equals("stream ended")) {
          return requests; // clean end between requests
        }
        throw e;
      }
      assertThat(hb.length).isLessThanOrEqualTo(Limits.MAX_HEADER_MESSAGE);
      Header h = Json.readHeader(hb);
      if (hb.length == Limits.MAX_HEADER_MESSAGE) {
        r.skipSeedEmptyHeaderFrame();
      }
      byte[] json = null;
      if (h.dataType() != DataType.OCTETS) {
        json = r.readDataMessage(OPTIONS.maxJsonBody());
        assertThat(json.length).isLessThanOrEqualTo(input.length);
      }
      if (h.dataType().hasOctets()) {
        var body = r.dataStream(RpcServer::checkTrailer);
        var b = new byte[8192];
        long total = 0;
        int n;
        while ((n = body.read(b, 0, b.length)) >= 0) {
          total += n;
        }
        assertThat(total).isLessThanOrEqualTo(input.length);
        assertThat(body.isComplete()).isTrue();
      }
      if (h.endpoint().equals(Hello.ENDPOINT) && json != null) {
        var hello = (Hello) Json.read(json, Json.type(Hello.class));
        if (hello != null && hello.version() >= 1) {
          r.allowKeepAlives();
        }
      }
      assertThat(r.atMessageBoundary()).isTrue();
      requests++;
    }
  }
}
