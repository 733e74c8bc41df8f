package dev.merit.coordinator.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.coordinator.Coordinator;
import dev.merit.proto.v1.AdminServiceGrpc;
import dev.merit.proto.v1.CreateTokenRequest;
import dev.merit.proto.v1.ListBranchesRequest;
import dev.merit.proto.v1.Principal;
import dev.merit.proto.v1.Role;
import dev.merit.proto.v1.VersionServiceGrpc;
import dev.merit.proto.v1.WhoAmIRequest;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tokens and roles through the real services over the in-process transport; the admin token is made once. */
class InProcessAuthTest {

    @TempDir
    Path dir;

    private static AdminServiceGrpc.AdminServiceBlockingStub admin(ManagedChannel ch, String token) {
        Metadata h = new Metadata();
        if (token != null) {
            h.put(AuthInterceptor.AUTHORIZATION, "Bearer " + token);
        }
        return AdminServiceGrpc.newBlockingStub(ch).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(h))
                .withDeadlineAfter(10, TimeUnit.SECONDS);
    }

    @Test
    void tokensMapToPrincipalsAndRolesGateCalls() {
        String name = InProcessServerBuilder.generateName();
        String adminToken;
        try (Coordinator c = Coordinator.builder(dir).serverBuilder(InProcessServerBuilder.forName(name)).start()) {
            adminToken = c.initialAdminToken().orElseThrow();
            ManagedChannel ch = InProcessChannelBuilder.forName(name).build();
            try {
                Principal me = admin(ch, adminToken).whoAmI(WhoAmIRequest.getDefaultInstance());
                assertEquals("admin", me.getName());
                assertEquals(Role.MAINTAINER, me.getRole());

                String reader = admin(ch, adminToken).createToken(CreateTokenRequest.newBuilder().setName("rita").setRole(Role.READER).build()).getToken();
                StatusRuntimeException denied = assertThrows(StatusRuntimeException.class, () -> admin(ch, reader)
                        .createToken(CreateTokenRequest.newBuilder().setName("x").setRole(Role.MAINTAINER).build()));
                assertEquals(Status.Code.PERMISSION_DENIED, denied.getStatus().getCode());
                assertEquals("'rita' has role reader; creating tokens needs maintainer", denied.getStatus().getDescription());

                StatusRuntimeException none = assertThrows(StatusRuntimeException.class, () -> admin(ch, null).whoAmI(WhoAmIRequest.getDefaultInstance()));
                assertEquals(Status.Code.UNAUTHENTICATED, none.getStatus().getCode());

                StatusRuntimeException badName = assertThrows(StatusRuntimeException.class, () -> admin(ch, adminToken)
                        .createToken(CreateTokenRequest.newBuilder().setName("no spaces").setRole(Role.READER).build()));
                assertEquals(Status.Code.INVALID_ARGUMENT, badName.getStatus().getCode());
                assertTrue(badName.getStatus().getDescription().contains("invalid token name 'no spaces'"));

                Metadata h = new Metadata();
                h.put(AuthInterceptor.AUTHORIZATION, "Bearer " + reader);
                assertEquals(0, VersionServiceGrpc.newBlockingStub(ch).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(h))
                        .withDeadlineAfter(10, TimeUnit.SECONDS).listBranches(ListBranchesRequest.getDefaultInstance()).getBranchesCount());
            } finally {
                ch.shutdownNow();
            }
        }
        // A restart keeps the tokens and does not make another admin token.
        String name2 = InProcessServerBuilder.generateName();
        try (Coordinator c = Coordinator.builder(dir).serverBuilder(InProcessServerBuilder.forName(name2)).start()) {
            assertTrue(c.initialAdminToken().isEmpty());
            ManagedChannel ch = InProcessChannelBuilder.forName(name2).build();
            try {
                assertEquals("admin", admin(ch, adminToken).whoAmI(WhoAmIRequest.getDefaultInstance()).getName());
            } finally {
                ch.shutdownNow();
            }
        }
    }
}
