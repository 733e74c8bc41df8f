package dev.merit.coordinator.grpc;

import dev.merit.coordinator.Versions;
import dev.merit.coordinator.auth.KeyRegistry;
import dev.merit.coordinator.auth.TokenStore;
import dev.merit.coordinator.policy.PolicyRunner;
import dev.merit.coordinator.proposals.ProposalService;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import java.util.List;
import java.util.function.LongConsumer;

/** The coordinator's gRPC services, each behind the authentication interceptor. */
public final class GrpcServices {

    private GrpcServices() {}

    public static List<ServerServiceDefinition> create(TokenStore tokens, KeyRegistry keys, ProposalService proposals,
                                                       PolicyRunner policy, Versions versions, LongConsumer bytesReceived,
                                                       Runnable eventsWritten) {
        AuthInterceptor auth = new AuthInterceptor(tokens);
        return List.of(
                ServerInterceptors.intercept(new ProposalGrpcService(proposals, policy, bytesReceived), auth),
                ServerInterceptors.intercept(new VersionGrpcService(versions, eventsWritten), auth),
                ServerInterceptors.intercept(new AdminGrpcService(tokens, keys), auth));
    }
}
