package dev.merit.coordinator.grpc;

import dev.merit.coordinator.auth.AdminService;
import dev.merit.coordinator.auth.KeyRegistry;
import dev.merit.error.InvalidInputException;
import dev.merit.proto.v1.ListKeysRequest;
import dev.merit.proto.v1.ListKeysResponse;
import dev.merit.proto.v1.ListTokensRequest;
import dev.merit.proto.v1.ListTokensResponse;
import dev.merit.proto.v1.RevokeKeyRequest;
import dev.merit.proto.v1.RevokeTokenRequest;
import dev.merit.proto.v1.RevokeTokenResponse;
import dev.merit.proto.v1.RotateKeyRequest;
import dev.merit.proto.v1.RotateKeyResponse;
import dev.merit.proto.v1.SigningKey;
import dev.merit.proto.v1.AdminServiceGrpc;
import dev.merit.proto.v1.BackupRequest;
import dev.merit.proto.v1.BackupResponse;
import dev.merit.proto.v1.CreateTokenRequest;
import dev.merit.proto.v1.CreateTokenResponse;
import dev.merit.proto.v1.RegisterKeyRequest;
import dev.merit.proto.v1.RegisterKeyResponse;
import dev.merit.proto.v1.WhoAmIRequest;
import io.grpc.stub.StreamObserver;
import java.time.Instant;
import java.util.Optional;

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
            if (req.getExpiresUnixMs() < 0) {
                throw new InvalidInputException("expires_unix_ms " + req.getExpiresUnixMs() + " is negative (0: never)");
            }
            Optional<Instant> expires = req.getExpiresUnixMs() == 0 ? Optional.empty() : Optional.of(Instant.ofEpochMilli(req.getExpiresUnixMs()));
            AdminService.CreatedToken t = admin.createToken(AuthInterceptor.principal(), req.getName(), Convert.role(req.getRole()), expires);
            return CreateTokenResponse.newBuilder().setToken(t.token()).setPrincipal(Convert.principal(t.identity()))
                    .setInfo(Convert.token(t.info())).build();
        });
    }

    @Override
    public void backup(BackupRequest req, StreamObserver<BackupResponse> out) {
        Errors.unary(out, () -> {
            AdminService.Backup b = admin.backup(AuthInterceptor.principal(), req.getDirectory());
            return BackupResponse.newBuilder().setDirectory(b.directory().toString()).setBytes(b.bytes()).build();
        });
    }

    @Override
    public void registerKey(RegisterKeyRequest req, StreamObserver<RegisterKeyResponse> out) {
        Errors.unary(out, () -> RegisterKeyResponse.newBuilder()
                .setFingerprint(admin.registerKey(AuthInterceptor.principal(), req.getPublicKey().toByteArray())).build());
    }

    @Override
    public void listTokens(ListTokensRequest req, StreamObserver<ListTokensResponse> out) {
        Errors.unary(out, () -> ListTokensResponse.newBuilder()
                .addAllTokens(admin.listTokens(AuthInterceptor.principal()).stream().map(Convert::token).toList()).build());
    }

    @Override
    public void revokeToken(RevokeTokenRequest req, StreamObserver<RevokeTokenResponse> out) {
        Errors.unary(out, () -> RevokeTokenResponse.newBuilder()
                .addAllRevoked(admin.revokeToken(AuthInterceptor.principal(), req.getIdOrName()).stream().map(Convert::token).toList()).build());
    }

    @Override
    public void rotateKey(RotateKeyRequest req, StreamObserver<RotateKeyResponse> out) {
        Errors.unary(out, () -> {
            KeyRegistry.Rotation r = admin.rotateKey(AuthInterceptor.principal(), req.getPublicKey().toByteArray(), req.getProof().toByteArray());
            return RotateKeyResponse.newBuilder().setFingerprint(r.current()).setPreviousFingerprint(r.previous()).build();
        });
    }

    @Override
    public void revokeKey(RevokeKeyRequest req, StreamObserver<SigningKey> out) {
        Errors.unary(out, () -> Convert.key(admin.revokeKey(AuthInterceptor.principal(), req.getFingerprint(), req.getProof().toByteArray())));
    }

    @Override
    public void listKeys(ListKeysRequest req, StreamObserver<ListKeysResponse> out) {
        Errors.unary(out, () -> ListKeysResponse.newBuilder()
                .addAllKeys(admin.listKeys(AuthInterceptor.principal(), req.getContributor()).stream().map(Convert::key).toList()).build());
    }
}
