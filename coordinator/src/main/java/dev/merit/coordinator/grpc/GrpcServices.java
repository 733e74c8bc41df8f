package dev.merit.coordinator.grpc;

import dev.merit.coordinator.VersionService;
import dev.merit.coordinator.auth.AdminService;
import dev.merit.coordinator.auth.TokenStore;
import dev.merit.coordinator.policy.PolicyRunner;
import dev.merit.coordinator.proposals.ProposalService;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import java.util.List;
import java.util.function.LongConsumer;

/** The coordinator's gRPC services, each a thin adapter over a core service, behind the authentication interceptor. */
public final class GrpcServices {

    private GrpcServices() {}

    public static List<ServerServiceDefinition> create(TokenStore tokens, AdminService admin, ProposalService proposals,
                                                       PolicyRunner policy, VersionService versions, LongConsumer bytesReceived) {
        AuthInterceptor auth = new AuthInterceptor(tokens);
        return List.of(
                ServerInterceptors.intercept(new ProposalGrpcService(proposals, policy, bytesReceived), auth),
                ServerInterceptors.intercept(new VersionGrpcService(versions), auth),
                ServerInterceptors.intercept(new AdminGrpcService(admin), auth)).stream().map(MalformedRequests::refusedAsInvalid).toList();
    }
}
