package dev.merit.coordinator.harden;

import com.google.protobuf.ByteString;
import dev.merit.codec.DeltaCodec;
import dev.merit.codec.EncodeOptions;
import dev.merit.coordinator.Coordinator;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.proto.v1.AdminServiceGrpc;
import dev.merit.proto.v1.CreateTokenRequest;
import dev.merit.proto.v1.Proposal;
import dev.merit.proto.v1.ProposalServiceGrpc;
import dev.merit.proto.v1.PublishRequest;
import dev.merit.proto.v1.PublishResponse;
import dev.merit.proto.v1.PublishStart;
import dev.merit.proto.v1.PushRequest;
import dev.merit.proto.v1.PushResponse;
import dev.merit.proto.v1.RegisterKeyRequest;
import dev.merit.proto.v1.Role;
import dev.merit.proto.v1.VersionServiceGrpc;
import dev.merit.safetensors.Safetensors;
import dev.merit.store.ObjectId;
import dev.merit.store.ObjectKind;
import dev.merit.store.Repository;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import dev.merit.testing.TestModels;
import dev.merit.wire.Ed25519;
import dev.merit.wire.ObjectPieces;
import dev.merit.wire.ProposalDigest;
import dev.merit.wire.ProposalSpec;
import dev.merit.wire.WireConvert;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.security.KeyPair;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * A real coordinator on a loopback port over a data directory that outlives it: tests stop it
 * (as a crash would leave it, or cleanly) and start another on the same data. Contributors get
 * tokens and registered signing keys and push signed sparse proposals over gRPC.
 */
final class LoopbackCoordinator implements AutoCloseable {

    static final TensorInfo W = TensorInfo.of("w", DType.F32, 64, 32);

    private final Path data;
    final String adminToken;
    final ObjectId v0;
    private final Map<String, String> tokens = new HashMap<>();
    private final Map<String, KeyPair> keys = new HashMap<>();
    Coordinator coord;
    private ManagedChannel channel;

    /** Starts a first coordinator on a fresh {@code dir}, publishes a small model as main's version 0. */
    LoopbackCoordinator(Path dir, UnaryOperator<Coordinator.Builder> setup) throws Exception {
        this.data = dir.resolve("server");
        Path model = TestModels.builder().seed(5).tensor("w", DType.F32, 64, 32).tensor("b", DType.F32, 32).write(dir.resolve("m.safetensors"));
        start(setup);
        adminToken = coord.initialAdminToken().orElseThrow();
        try (Repository local = Repository.init(dir.resolve("local")); TensorSource src = Safetensors.open(model)) {
            v0 = local.commit().setSource(src).setMessage("base").call().id();
            publish(local, v0);
        }
    }

    Path data() {
        return data;
    }

    /** Starts a coordinator on the data directory (the previous one must be stopped). */
    void start(UnaryOperator<Coordinator.Builder> setup) {
        coord = setup.apply(Coordinator.builder(data).listen("127.0.0.1", 0)).start();
        channel = NettyChannelBuilder.forAddress("127.0.0.1", coord.port()).usePlaintext().build();
    }

    /** Stops the coordinator and its channel. */
    void stop() {
        if (channel != null) {
            channel.shutdownNow();
            channel = null;
        }
        if (coord != null) {
            coord.close();
            coord = null;
        }
    }

    ManagedChannel channel() {
        return channel;
    }

    /** A contributor with a token and a registered key (made once; tokens and keys live in the data directory). */
    String contributor(String name) {
        return tokens.computeIfAbsent(name, n -> {
            String t = with(AdminServiceGrpc.newBlockingStub(channel), adminToken)
                    .createToken(CreateTokenRequest.newBuilder().setName(n).setRole(Role.CONTRIBUTOR).build()).getToken();
            KeyPair k = Ed25519.generate();
            keys.put(n, k);
            with(AdminServiceGrpc.newBlockingStub(channel), t)
                    .registerKey(RegisterKeyRequest.newBuilder().setPublicKey(ByteString.copyFrom(k.getPublic().getEncoded())).build());
            return t;
        });
    }

    /** {@code who}'s signing key (registered with {@link #contributor}). */
    KeyPair key(String who) {
        contributor(who);
        return keys.get(who);
    }

    static <S extends AbstractStub<S>> S with(S stub, String token) {
        Metadata h = new Metadata();
        h.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(h)).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    ProposalServiceGrpc.ProposalServiceBlockingStub proposals(String token) {
        return with(ProposalServiceGrpc.newBlockingStub(channel), token);
    }

    ObjectId head() {
        return coord.versions().requireHead("main");
    }

    private void publish(Repository local, ObjectId tip) throws Exception {
        publish(channel, adminToken, local, tip);
    }

    /** Publishes {@code tip} of {@code local} as main's first version (a maintainer's token). */
    static void publish(ManagedChannel channel, String adminToken, Repository local, ObjectId tip) throws Exception {
        CompletableFuture<PublishResponse> done = new CompletableFuture<>();
        StreamObserver<PublishRequest> in = with(VersionServiceGrpc.newStub(channel), adminToken).publish(observer(done));
        List<Map.Entry<ObjectKind, ObjectId>> objects = local.missingObjects(tip, List.of());
        in.onNext(PublishRequest.newBuilder().setStart(PublishStart.newBuilder().setBranch("main").setCommit(WireConvert.id(tip))
                .setObjects(objects.size())).build());
        for (Map.Entry<ObjectKind, ObjectId> e : objects) {
            for (var piece : ObjectPieces.split(e.getKey(), e.getValue(), local.readObject(e.getKey(), e.getValue()).orElseThrow())) {
                in.onNext(PublishRequest.newBuilder().setPiece(piece).build());
            }
        }
        in.onCompleted();
        done.get(60, TimeUnit.SECONDS);
    }

    /** A signed proposal: its header and its payload, ready to stream. */
    record Signed(ProposalSpec spec, byte[] payload) {
        PushRequest header(long resumeOffset) {
            return PushRequest.newBuilder().setHeader(WireConvert.header(spec, resumeOffset)).build();
        }
    }

    /** {@code who}'s signed proposal adding {@code values} at {@code positions} of {@link #W}, against {@code base}. */
    Signed proposal(String who, ObjectId base, long[] positions, float[] values, String message) {
        contributor(who);
        return sign(keys.get(who), who, base, positions, values, message);
    }

    /** A proposal of {@code who} signed with {@code key}, adding {@code values} at {@code positions} of {@link #W}. */
    static Signed sign(KeyPair key, String who, ObjectId base, long[] positions, float[] values, String message) {
        byte[] delta;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pos = arena.allocate(positions.length * 8L, 8);
            MemorySegment val = arena.allocate(values.length * 4L, 8);
            for (int i = 0; i < positions.length; i++) {
                pos.setAtIndex(SparseTensorDelta.POSITION, i, positions[i]);
                val.setAtIndex(SparseTensorDelta.ADD_VALUE, i, values[i]);
            }
            SparseTensorDelta d = new SparseTensorDelta(W, SparseTensorDelta.Semantics.ADD, positions.length, pos, val);
            delta = DeltaCodec.encode(d, EncodeOptions.defaults(), arena).encoded().toArray(ValueLayout.JAVA_BYTE);
        }
        List<ProposalSpec.Part> parts = List.of(new ProposalSpec.Part(W, delta.length, 0));
        ProposalSpec unsigned = new ProposalSpec("main", base.name(), who, 100, message, parts, new byte[32], new byte[0]);
        byte[] digest = ProposalDigest.start(unsigned).update(delta, 0, delta.length).finish();
        return new Signed(new ProposalSpec("main", base.name(), who, 100, message, parts, digest,
                Ed25519.sign(key.getPrivate(), digest)), delta);
    }

    /** Pushes a signed proposal whole in one stream; returns the coordinator's answer. */
    Proposal push(String who, Signed s) throws Exception {
        CompletableFuture<PushResponse> done = new CompletableFuture<>();
        StreamObserver<PushRequest> in = with(ProposalServiceGrpc.newStub(channel), contributor(who)).push(observer(done));
        in.onNext(s.header(0));
        in.onNext(PushRequest.newBuilder().setData(ByteString.copyFrom(s.payload())).build());
        in.onCompleted();
        return done.get(60, TimeUnit.SECONDS).getProposal();
    }

    /** A push stream under {@code who}'s token, driven by the test: send pieces, cancel or finish. */
    final class PushStream {
        final CompletableFuture<PushResponse> answer = new CompletableFuture<>();
        private final StreamObserver<PushRequest> in;

        private PushStream(String who, PushRequest header) {
            in = with(ProposalServiceGrpc.newStub(channel), contributor(who)).push(observer(answer));
            in.onNext(header);
        }

        PushStream send(byte[] b, int from, int to) {
            in.onNext(PushRequest.newBuilder().setData(ByteString.copyFrom(b, from, to - from)).build());
            return this;
        }

        /** Cuts the stream (the client's cancel), leaving what was staged for a resume. */
        void cancel() {
            in.onError(new RuntimeException("cut by the test"));
        }

        Proposal finish() throws Exception {
            in.onCompleted();
            return answer.get(60, TimeUnit.SECONDS).getProposal();
        }
    }

    PushStream stream(String who, Signed s, long resumeOffset) {
        return new PushStream(who, s.header(resumeOffset));
    }

    /** {@code who}'s own header (its name, its signature) that claims {@code other}'s digest, so its upload id. */
    Signed claiming(String who, Signed other) {
        contributor(who);
        ProposalSpec o = other.spec();
        return new Signed(new ProposalSpec(o.branch(), o.baseVersion(), who, o.exampleCount(), o.message(), o.parts(), o.digest(),
                Ed25519.sign(keys.get(who).getPrivate(), o.digest())), other.payload());
    }

    /** Positions 0, step, 2 step... (count of them) each changed by {@code value}: a payload of a chosen size. */
    Signed spread(String who, ObjectId base, int count, int step, float value, String message) {
        long[] pos = new long[count];
        float[] val = new float[count];
        for (int i = 0; i < count; i++) {
            pos[i] = (long) i * step;
            val[i] = value + i * 1e-3f;
        }
        return proposal(who, base, pos, val, message);
    }

    Proposal push(String who, ObjectId base, long[] positions, float[] values, String message) throws Exception {
        return push(who, proposal(who, base, positions, values, message));
    }

    static <T> StreamObserver<T> observer(CompletableFuture<T> done) {
        return new StreamObserver<>() {
            @Override
            public void onNext(T value) {
                done.complete(value);
            }

            @Override
            public void onError(Throwable t) {
                done.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                done.completeExceptionally(new AssertionError("the call ended without an answer"));
            }
        };
    }

    @Override
    public void close() {
        stop();
    }
}
