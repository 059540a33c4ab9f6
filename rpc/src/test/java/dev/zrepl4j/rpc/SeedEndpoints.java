package dev.zrepl4j.rpc;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.util.Arrays;

/** The endpoints of the program that made the seed's wire captures: Echo, Stream, Fail. */
public final class SeedEndpoints {
  /** {@code {"Seq":1,"Payload":"hi"}}. */
  public record EchoMsg(int seq, String payload) {}

  /** {@code {"Bytes":5}}. */
  public record StreamReq(int bytes) {}

  @RpcName("Echo")
  public EchoMsg echo(EchoMsg in) {
    return in;
  }

  @RpcName("Stream")
  public InputStream stream(StreamReq r) {
    byte[] b = new byte[r.bytes()];
    Arrays.fill(b, (byte) 0xab);
    return new ByteArrayInputStream(b);
  }

  @RpcName("Fail")
  public EchoMsg fail(EchoMsg in) throws java.io.IOException {
    throw new java.io.IOException("handler says no");
  }
}
