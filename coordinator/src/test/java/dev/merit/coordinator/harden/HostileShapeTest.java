package dev.merit.coordinator.harden;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.proto.v1.GramPayload;
import dev.merit.proto.v1.ProposalHeader;
import dev.merit.proto.v1.ProposalServiceGrpc;
import dev.merit.proto.v1.ProposalStatus;
import dev.merit.proto.v1.PushRequest;
import dev.merit.proto.v1.PushResponse;
import dev.merit.proto.v1.TensorSpec;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A push header whose tensor shape holds more than 2^63 bytes (dimensions whose product overflows)
 * or has a negative dimension is refused with INVALID_ARGUMENT naming the tensor and its shape,
 * as the header is converted, before anything is stored; the signed header is otherwise valid.
 * Before the fix such a header was converted into a tensor whose numel() overflows, and the push
 * was answered with a stored rejected proposal (the structure check happened to compare layouts
 * before any size), leaving every later use of the tensor's size unguarded.
 */
class HostileShapeTest {

    private static final PolicyConfig MANUAL = PolicyConfig.defaults().withPolicy(MergePolicy.MANUAL);

    @TempDir
    Path dir;

    private static StatusRuntimeException refusal(LoopbackCoordinator c, ProposalHeader header, byte[] payload) throws Exception {
        CompletableFuture<PushResponse> done = new CompletableFuture<>();
        var in = LoopbackCoordinator.with(ProposalServiceGrpc.newStub(c.channel()), c.contributor("alice")).push(LoopbackCoordinator.observer(done));
        in.onNext(PushRequest.newBuilder().setHeader(header).build());
        in.onNext(PushRequest.newBuilder().setData(ByteString.copyFrom(payload)).build());
        in.onCompleted();
        ExecutionException e = assertThrows(ExecutionException.class, () -> done.get(60, TimeUnit.SECONDS));
        return assertInstanceOf(StatusRuntimeException.class, e.getCause());
    }

    private static ProposalHeader withShape(ProposalHeader h, long... shape) {
        ProposalHeader.Builder b = h.toBuilder();
        TensorSpec.Builder s = b.getTensorsBuilder(0).getSpecBuilder().clearShape();
        Arrays.stream(shape).forEach(s::addShape);
        return b.build();
    }

    @Test
    void shapesPastTwoToTheSixtyThreeBytesAreInvalidArguments() throws Exception {
        try (LoopbackCoordinator c = new LoopbackCoordinator(dir, b -> b.policy(MANUAL))) {
            LoopbackCoordinator.Signed s = c.proposal("alice", c.v0, new long[] {1, 2}, new float[] {0.1f, 0.2f}, "shapes");
            ProposalHeader h = s.header(0).getHeader();
            long[][] overflowing = {
                {Long.MAX_VALUE, Long.MAX_VALUE}, {1L << 62, 4}, {3_037_000_500L, 3_037_000_500L}, {1L << 61}, // 2^61 F32 = 2^63 bytes
            };
            for (long[] shape : overflowing) {
                StatusRuntimeException e = refusal(c, withShape(h, shape), s.payload());
                assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), Arrays.toString(shape));
                assertEquals("tensor 'w': shape " + Arrays.toString(shape) + " of F32 holds more than 2^63 bytes", e.getStatus().getDescription());
            }
            long[] many = new long[70];
            Arrays.fill(many, 1024);
            assertEquals(Status.Code.INVALID_ARGUMENT, refusal(c, withShape(h, many), s.payload()).getStatus().getCode());

            StatusRuntimeException negative = refusal(c, withShape(h, 64, -32), s.payload());
            assertEquals(Status.Code.INVALID_ARGUMENT, negative.getStatus().getCode());
            assertTrue(negative.getStatus().getDescription().startsWith("tensor 'w': negative dimension in shape [64, -32]"),
                    negative.getStatus().getDescription());

            ProposalHeader gram = h.toBuilder().addGrams(GramPayload.newBuilder().setBytes(64).setSpec(TensorSpec.newBuilder()
                    .setName("w").setDtype("F32").addShape(1L << 40).addShape(1L << 40))).build();
            StatusRuntimeException g = refusal(c, gram, s.payload());
            assertEquals(Status.Code.INVALID_ARGUMENT, g.getStatus().getCode());
            assertEquals("tensor 'w': shape [1099511627776, 1099511627776] of F32 holds more than 2^63 bytes", g.getStatus().getDescription());

            assertEquals(0, c.coord.proposals().store().list(r -> true, 100).size(), "nothing stored");
            assertEquals(ProposalStatus.ACCEPTED, c.push("alice", s).getStatus(), "the same proposal with its own shape is taken");
        }
    }
}
