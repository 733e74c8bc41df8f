package dev.merit.coordinator.harden;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.proto.v1.ListBranchesRequest;
import dev.merit.proto.v1.ProposalStatus;
import dev.merit.proto.v1.VersionServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Request bytes that are not the method's protobuf message are answered INVALID_ARGUMENT naming
 * the method and the message it expects, on unary and streaming calls alike, and the server goes
 * on serving. Before the fix gRPC answered UNKNOWN ("Application error processing RPC").
 */
class MalformedRequestTest {

    @TempDir
    Path dir;

    private static Status send(LoopbackCoordinator c, String method, boolean streaming, byte[] body) throws Exception {
        Metadata m = new Metadata();
        m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + c.contributor("alice"));
        Channel ch = ClientInterceptors.intercept(c.channel(), MetadataUtils.newAttachHeadersInterceptor(m));
        MethodDescriptor<byte[], byte[]> md = MethodDescriptor.<byte[], byte[]>newBuilder()
                .setType(streaming ? MethodDescriptor.MethodType.CLIENT_STREAMING : MethodDescriptor.MethodType.UNARY)
                .setFullMethodName(method).setRequestMarshaller(GrpcFuzz.RAW).setResponseMarshaller(GrpcFuzz.RAW).build();
        CompletableFuture<byte[]> done = new CompletableFuture<>();
        var call = ch.newCall(md, CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS));
        if (streaming) {
            StreamObserver<byte[]> in = ClientCalls.asyncClientStreamingCall(call, LoopbackCoordinator.observer(done));
            in.onNext(body);
            in.onNext(body);
            in.onCompleted();
        } else {
            ClientCalls.asyncUnaryCall(call, body, LoopbackCoordinator.observer(done));
        }
        ExecutionException e = assertThrows(ExecutionException.class, () -> done.get(60, TimeUnit.SECONDS));
        return assertInstanceOf(StatusRuntimeException.class, e.getCause()).getStatus();
    }

    @Test
    void bytesThatAreNotTheRequestMessageAreInvalidArguments() throws Exception {
        try (LoopbackCoordinator c = new LoopbackCoordinator(dir, b -> b.policy(PolicyConfig.defaults().withPolicy(MergePolicy.MANUAL)))) {
            byte[] truncatedString = {0x0a, 0x7f, 0x41};
            Status unary = send(c, "merit.v1.ProposalService/GetProposal", false, truncatedString);
            assertEquals(Status.Code.INVALID_ARGUMENT, unary.getCode(), unary.toString());
            assertTrue(unary.getDescription().startsWith("merit.v1.ProposalService/GetProposal: the request is not a valid "
                    + "merit.v1.GetProposalRequest message ("), unary.getDescription());

            byte[] endGroupTag = {0x0f, 0x00};
            Status push = send(c, "merit.v1.ProposalService/Push", true, endGroupTag);
            assertEquals(Status.Code.INVALID_ARGUMENT, push.getCode(), push.toString());
            assertTrue(push.getDescription().contains("merit.v1.PushRequest"), push.getDescription());

            byte[] overlongVarint = {0x08, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80,
                (byte) 0x80, (byte) 0x80, (byte) 0x80, 0x01};
            assertEquals(Status.Code.INVALID_ARGUMENT, send(c, "merit.v1.AdminService/CreateToken", false, overlongVarint).getCode());

            // Still serving, on the same connection.
            assertEquals(1, LoopbackCoordinator.with(VersionServiceGrpc.newBlockingStub(c.channel()), c.contributor("alice"))
                    .listBranches(ListBranchesRequest.getDefaultInstance()).getBranchesCount());
            assertEquals(ProposalStatus.ACCEPTED, c.push("alice", c.v0, new long[] {4}, new float[] {0.1f}, "after garbage").getStatus());
            assertEquals(0, c.coord.proposals().store().list(r -> !r.message().equals("after garbage"), 100).size(), "nothing else stored");
        }
    }
}
