package dev.zrepl4j.bench;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * gRPC-java (Netty transport, plaintext TCP on 127.0.0.1) doing what {@link RpcBench} has our RPC
 * do: a server-streaming call of 1 MiB messages (a pull's {@code zfs send} stream), a
 * client-streaming call of 1 MiB messages (a push), and sequential small unary calls. Messages are
 * byte arrays with a pass-through marshaller (no protobuf: what remains is gRPC's own cost), the
 * server and the channel run calls on the transport's threads ({@code directExecutor}, as gRPC's
 * own benchmarks do), and streams respect flow control ({@code isReady}/{@code onReady}), as a
 * correct gRPC program must.
 */
final class GrpcBaseline implements AutoCloseable {
  private static final MethodDescriptor.Marshaller<byte[]> BYTES =
      new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
          return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
          try {
            return stream.readAllBytes();
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
      };

  private static final MethodDescriptor<byte[], byte[]> DOWNLOAD =
      method("bench/Download", MethodDescriptor.MethodType.SERVER_STREAMING);
  private static final MethodDescriptor<byte[], byte[]> UPLOAD =
      method("bench/Upload", MethodDescriptor.MethodType.CLIENT_STREAMING);
  private static final MethodDescriptor<byte[], byte[]> ECHO =
      method("bench/Echo", MethodDescriptor.MethodType.UNARY);

  private static MethodDescriptor<byte[], byte[]> method(
      String name, MethodDescriptor.MethodType type) {
    return MethodDescriptor.<byte[], byte[]>newBuilder()
        .setType(type)
        .setFullMethodName(name)
        .setRequestMarshaller(BYTES)
        .setResponseMarshaller(BYTES)
        .build();
  }

  private final byte[] chunk;
  private final Server server;
  private final ManagedChannel channel;

  GrpcBaseline(int chunkBytes) throws IOException {
    this.chunk = new byte[chunkBytes];
    var service =
        ServerServiceDefinition.builder("bench")
            .addMethod(DOWNLOAD, ServerCalls.asyncServerStreamingCall(this::download))
            .addMethod(UPLOAD, ServerCalls.asyncClientStreamingCall(GrpcBaseline::upload))
            .addMethod(
                ECHO,
                ServerCalls.asyncUnaryCall(
                    (req, out) -> {
                      out.onNext(req);
                      out.onCompleted();
                    }))
            .build();
    server =
        NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
            .directExecutor()
            .maxInboundMessageSize(2 * chunkBytes)
            .addService(service)
            .build()
            .start();
    channel =
        NettyChannelBuilder.forAddress("127.0.0.1", server.getPort())
            .usePlaintext()
            .directExecutor()
            .maxInboundMessageSize(2 * chunkBytes)
            .build();
  }

  private static byte[] longBytes(long v) {
    return ByteBuffer.allocate(8).putLong(v).array();
  }

  /** Streams the requested number of bytes in chunks, as fast as flow control lets it. */
  private void download(byte[] request, StreamObserver<byte[]> out) {
    long total = ByteBuffer.wrap(request).getLong();
    var s = (ServerCallStreamObserver<byte[]>) out;
    var done = new AtomicBoolean();
    long[] sent = {0};
    s.setOnReadyHandler(
        () -> {
          while (s.isReady() && sent[0] < total) {
            s.onNext(chunk);
            sent[0] += chunk.length;
          }
          if (sent[0] >= total && done.compareAndSet(false, true)) {
            s.onCompleted();
          }
        });
  }

  /** Counts what the client streams; answers the count. */
  private static StreamObserver<byte[]> upload(StreamObserver<byte[]> out) {
    return new StreamObserver<>() {
      long got;

      @Override
      public void onNext(byte[] value) {
        got += value.length;
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {
        out.onNext(longBytes(got));
        out.onCompleted();
      }
    };
  }

  /** A server-streaming call of {@code bytes}, read to its end; returns the bytes received. */
  long download(long bytes) {
    long got = 0;
    var it =
        ClientCalls.blockingServerStreamingCall(
            channel, DOWNLOAD, CallOptions.DEFAULT, longBytes(bytes));
    while (it.hasNext()) {
      got += it.next().length;
    }
    return got;
  }

  /** A client-streaming call of {@code bytes}; returns what the server counted. */
  long upload(long bytes) throws InterruptedException, ExecutionException {
    var result = new CompletableFuture<Long>();
    ClientCalls.asyncClientStreamingCall(
        channel.newCall(UPLOAD, CallOptions.DEFAULT),
        new ClientResponseObserver<byte[], byte[]>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<byte[]> requests) {
            var done = new AtomicBoolean();
            long[] sent = {0};
            requests.setOnReadyHandler(
                () -> {
                  while (requests.isReady() && sent[0] < bytes) {
                    requests.onNext(chunk);
                    sent[0] += chunk.length;
                  }
                  if (sent[0] >= bytes && done.compareAndSet(false, true)) {
                    requests.onCompleted();
                  }
                });
          }

          @Override
          public void onNext(byte[] value) {
            result.complete(ByteBuffer.wrap(value).getLong());
          }

          @Override
          public void onError(Throwable t) {
            result.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            result.complete(-1L);
          }
        });
    return result.get();
  }

  /** One unary call with {@code payload}; returns the echoed payload. */
  byte[] echo(byte[] payload) {
    return ClientCalls.blockingUnaryCall(channel, ECHO, CallOptions.DEFAULT, payload);
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }
}
