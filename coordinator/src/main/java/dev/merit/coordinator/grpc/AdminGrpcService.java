package dev.merit.coordinator.grpc;

import dev.merit.coordinator.auth.KeyRegistry;
import dev.merit.coordinator.auth.Principal;
import dev.merit.coordinator.auth.Role;
import dev.merit.coordinator.auth.TokenStore;
import dev.merit.proto.v1.AdminServiceGrpc;
import dev.merit.proto.v1.CreateTokenRequest;
import dev.merit.proto.v1.CreateTokenResponse;
import dev.merit.proto.v1.RegisterKeyRequest;
import dev.merit.proto.v1.RegisterKeyResponse;
import dev.merit.proto.v1.WhoAmIRequest;
import io.grpc.stub.StreamObserver;

/** Adapts {@code merit.v1.AdminService} to the token store and key registry. */
final class AdminGrpcService extends AdminServiceGrpc.AdminServiceImplBase {

    private final TokenStore tokens;
    private final KeyRegistry keys;

    AdminGrpcService(TokenStore tokens, KeyRegistry keys) {
        this.tokens = tokens;
        this.keys = keys;
    }

    @Override
    public void whoAmI(WhoAmIRequest req, StreamObserver<dev.merit.proto.v1.Principal> out) {
        Errors.unary(out, () -> {
            Principal p = AuthInterceptor.principal();
            return Convert.principal(p, keys.find(p.name()).isPresent());
        });
    }

    @Override
    public void createToken(CreateTokenRequest req, StreamObserver<CreateTokenResponse> out) {
        Errors.unary(out, () -> {
            AuthInterceptor.principal().require(Role.MAINTAINER, "creating tokens");
            Role role = Convert.role(req.getRole());
            String token = tokens.create(req.getName(), role);
            return CreateTokenResponse.newBuilder().setToken(token)
                    .setPrincipal(Convert.principal(new Principal(req.getName(), role), keys.find(req.getName()).isPresent())).build();
        });
    }

    @Override
    public void registerKey(RegisterKeyRequest req, StreamObserver<RegisterKeyResponse> out) {
        Errors.unary(out, () -> {
            Principal p = AuthInterceptor.principal();
            p.require(Role.CONTRIBUTOR, "registering a signing key");
            return RegisterKeyResponse.newBuilder().setFingerprint(keys.register(p.name(), req.getPublicKey().toByteArray())).build();
        });
    }
}
