package dev.merit.coordinator.grpc;

import dev.merit.coordinator.auth.AdminService;
import dev.merit.proto.v1.AdminServiceGrpc;
import dev.merit.proto.v1.CreateTokenRequest;
import dev.merit.proto.v1.CreateTokenResponse;
import dev.merit.proto.v1.RegisterKeyRequest;
import dev.merit.proto.v1.RegisterKeyResponse;
import dev.merit.proto.v1.WhoAmIRequest;
import io.grpc.stub.StreamObserver;

/** Adapts {@code merit.v1.AdminService} to {@link AdminService}. */
final class AdminGrpcService extends AdminServiceGrpc.AdminServiceImplBase {

    private final AdminService admin;

    AdminGrpcService(AdminService admin) {
        this.admin = admin;
    }

    @Override
    public void whoAmI(WhoAmIRequest req, StreamObserver<dev.merit.proto.v1.Principal> out) {
        Errors.unary(out, () -> Convert.principal(admin.whoAmI(AuthInterceptor.principal())));
    }

    @Override
    public void createToken(CreateTokenRequest req, StreamObserver<CreateTokenResponse> out) {
        Errors.unary(out, () -> {
            AdminService.CreatedToken t = admin.createToken(AuthInterceptor.principal(), req.getName(), Convert.role(req.getRole()));
            return CreateTokenResponse.newBuilder().setToken(t.token()).setPrincipal(Convert.principal(t.identity())).build();
        });
    }

    @Override
    public void registerKey(RegisterKeyRequest req, StreamObserver<RegisterKeyResponse> out) {
        Errors.unary(out, () -> RegisterKeyResponse.newBuilder()
                .setFingerprint(admin.registerKey(AuthInterceptor.principal(), req.getPublicKey().toByteArray())).build());
    }
}
