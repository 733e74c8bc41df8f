package dev.merit.coordinator;

import com.google.protobuf.ByteString;
import dev.merit.codec.DeltaCodec;
import dev.merit.codec.EncodeOptions;
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
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.security.KeyPair;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A coordinator on the in-process transport with a published model, and a contributor who can
 * push signed proposals through the real gRPC services: the pipeline without a network.
 */
final class PipelineFixture implements AutoCloseable {

    static final TensorInfo W = TensorInfo.of("w", DType.F32, 64, 32);

    final Coordinator coord;
    final ManagedChannel channel;
    final String adminToken;
    final String aliceToken;
    final KeyPair aliceKey = Ed25519.generate();
    final ObjectId v0;

    PipelineFixture(Path dir, PolicyConfig policy) throws Exception {
        this(dir, policy, b -> b);
    }

    /** {@code more} adds to the coordinator's configuration (a gate, say). */
    PipelineFixture(Path dir, PolicyConfig policy, java.util.function.UnaryOperator<Coordinator.Builder> more) throws Exception {
        Path model = TestModels.builder().seed(5).tensor("w", DType.F32, 64, 32).tensor("b", DType.F32, 32).write(dir.resolve("m.safetensors"));
        String name = InProcessServerBuilder.generateName();
        coord = more.apply(Coordinator.builder(dir.resolve("server")).serverBuilder(InProcessServerBuilder.forName(name)).policy(policy))
                .start();
        channel = InProcessChannelBuilder.forName(name).build();
        adminToken = coord.initialAdminToken().orElseThrow();
        try (Repository local = Repository.init(dir.resolve("local")); TensorSource src = Safetensors.open(model)) {
            v0 = local.commit().setSource(src).setMessage("base").call().id();
            publish(local, v0);
        }
        aliceToken = with(AdminServiceGrpc.newBlockingStub(channel), adminToken)
                .createToken(CreateTokenRequest.newBuilder().setName("alice").setRole(Role.CONTRIBUTOR).build()).getToken();
        with(AdminServiceGrpc.newBlockingStub(channel), aliceToken)
                .registerKey(RegisterKeyRequest.newBuilder().setPublicKey(ByteString.copyFrom(aliceKey.getPublic().getEncoded())).build());
    }

    static <S extends AbstractStub<S>> S with(S stub, String token) {
        Metadata h = new Metadata();
        h.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(h)).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    private void publish(Repository local, ObjectId tip) throws Exception {
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
        done.get(30, TimeUnit.SECONDS);
    }

    /** A signed proposal adding {@code values} at {@code positions} of {@link #W}, against {@code base}. */
    Proposal push(ObjectId base, long[] positions, float[] values, String message) throws Exception {
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
        ProposalSpec unsigned = new ProposalSpec("main", base.name(), "alice", 100, message, parts, new byte[32], new byte[0]);
        byte[] digest = ProposalDigest.start(unsigned).update(delta, 0, delta.length).finish();
        ProposalSpec spec = new ProposalSpec("main", base.name(), "alice", 100, message, parts, digest,
                Ed25519.sign(aliceKey.getPrivate(), digest));
        CompletableFuture<PushResponse> done = new CompletableFuture<>();
        StreamObserver<PushRequest> in = with(ProposalServiceGrpc.newStub(channel), aliceToken).push(observer(done));
        in.onNext(PushRequest.newBuilder().setHeader(WireConvert.header(spec, 0)).build());
        in.onNext(PushRequest.newBuilder().setData(ByteString.copyFrom(delta)).build());
        in.onCompleted();
        return done.get(30, TimeUnit.SECONDS).getProposal();
    }

    ProposalServiceGrpc.ProposalServiceBlockingStub proposals(String token) {
        return with(ProposalServiceGrpc.newBlockingStub(channel), token);
    }

    ObjectId head() {
        return coord.versions().requireHead("main");
    }

    private static <T> StreamObserver<T> observer(CompletableFuture<T> done) {
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
        channel.shutdownNow();
        coord.close();
    }
}
