package dev.merit.coordinator.harden;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.proto.v1.AdminServiceGrpc;
import dev.merit.proto.v1.CreateTokenRequest;
import dev.merit.proto.v1.CreateTokenResponse;
import dev.merit.proto.v1.ListTokensRequest;
import dev.merit.proto.v1.RevokeTokenRequest;
import dev.merit.proto.v1.RevokeTokenResponse;
import dev.merit.proto.v1.Role;
import dev.merit.proto.v1.TokenInfo;
import dev.merit.proto.v1.VersionEvent;
import dev.merit.proto.v1.VersionServiceGrpc;
import dev.merit.proto.v1.WatchRequest;
import dev.merit.proto.v1.WhoAmIRequest;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Token expiry and revocation on a real coordinator (loopback gRPC and HTTP, RocksDB): an expired
 * or revoked token is refused on both transports from the next call on, revocations are kept
 * across a restart, and the bootstrap maintainer token keeps working.
 */
class TokenLifecycleTest {

    private static final UnaryOperator<dev.merit.coordinator.Coordinator.Builder> WITH_HTTP = b -> b.httpPort(0);

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private static AdminServiceGrpc.AdminServiceBlockingStub admin(LoopbackCoordinator c, String token) {
        return LoopbackCoordinator.with(AdminServiceGrpc.newBlockingStub(c.channel()), token);
    }

    private static CreateTokenResponse create(LoopbackCoordinator c, String name, Role role, long expiresUnixMs) {
        return admin(c, c.adminToken).createToken(CreateTokenRequest.newBuilder().setName(name).setRole(role)
                .setExpiresUnixMs(expiresUnixMs).build());
    }

    private static StatusRuntimeException refused(LoopbackCoordinator c, String token) {
        return assertThrows(StatusRuntimeException.class, () -> admin(c, token).whoAmI(WhoAmIRequest.getDefaultInstance()));
    }

    private HttpResponse<String> session(LoopbackCoordinator c, String token) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + c.coord.httpPort().orElseThrow() + "/api/session"))
                .header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(10)).GET().build();
        return http.send(req, HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void anExpiredTokenIsRefusedOnGrpcAndHttp() throws Exception {
        try (LoopbackCoordinator c = new LoopbackCoordinator(dir, WITH_HTTP)) {
            Instant expires = Instant.now().plusMillis(700);
            CreateTokenResponse t = create(c, "eve", Role.READER, expires.toEpochMilli());
            assertEquals(expires.toEpochMilli(), t.getInfo().getExpiresUnixMs());
            assertEquals("eve", admin(c, t.getToken()).whoAmI(WhoAmIRequest.getDefaultInstance()).getName());
            assertEquals(200, session(c, t.getToken()).statusCode());

            Thread.sleep(Math.max(0, Duration.between(Instant.now(), expires).toMillis() + 50));
            StatusRuntimeException e = refused(c, t.getToken());
            assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
            assertTrue(e.getStatus().getDescription().contains("token " + t.getInfo().getId() + " of 'eve' expired at " + expires.truncatedTo(java.time.temporal.ChronoUnit.MILLIS)),
                    e.getStatus().getDescription());
            HttpResponse<String> r = session(c, t.getToken());
            assertEquals(401, r.statusCode(), r.body());
            assertTrue(r.body().contains("expired at"), r.body());

            // An expiry in the past is bad input, and creates nothing.
            int before = admin(c, c.adminToken).listTokens(ListTokensRequest.getDefaultInstance()).getTokensCount();
            StatusRuntimeException past = assertThrows(StatusRuntimeException.class, () -> create(c, "late", Role.READER, 1_000));
            assertEquals(Status.Code.INVALID_ARGUMENT, past.getStatus().getCode());
            assertEquals(before, admin(c, c.adminToken).listTokens(ListTokensRequest.getDefaultInstance()).getTokensCount());
        }
    }

    @Test
    void aRevokedTokenIsRefusedAtOnceOnBothTransportsAndAfterARestart() throws Exception {
        try (LoopbackCoordinator c = new LoopbackCoordinator(dir, WITH_HTTP)) {
            CreateTokenResponse bob = create(c, "bob", Role.CONTRIBUTOR, 0);
            CreateTokenResponse bob2 = create(c, "bob", Role.CONTRIBUTOR, 0);
            CreateTokenResponse carol = create(c, "carol", Role.READER, 0);
            assertEquals(200, session(c, bob.getToken()).statusCode());

            List<TokenInfo> listed = admin(c, c.adminToken).listTokens(ListTokensRequest.getDefaultInstance()).getTokensList();
            assertEquals(List.of("admin", "bob", "bob", "carol"), listed.stream().map(TokenInfo::getName).toList());
            assertTrue(listed.stream().allMatch(t -> t.getId().matches("[0-9a-f]{8}") && t.getRevokedUnixMs() == 0 && t.getExpiresUnixMs() == 0));
            assertFalse(listed.toString().contains(bob.getToken().substring(4)), "a listing never shows a token");

            StatusRuntimeException denied = assertThrows(StatusRuntimeException.class, () -> admin(c, bob.getToken())
                    .revokeToken(RevokeTokenRequest.newBuilder().setIdOrName(carol.getInfo().getId()).build()));
            assertEquals(Status.Code.PERMISSION_DENIED, denied.getStatus().getCode());
            StatusRuntimeException unknown = assertThrows(StatusRuntimeException.class, () -> admin(c, c.adminToken)
                    .revokeToken(RevokeTokenRequest.newBuilder().setIdOrName("nobody").build()));
            assertEquals(Status.Code.NOT_FOUND, unknown.getStatus().getCode());
            assertTrue(unknown.getStatus().getDescription().contains("no token with id or name 'nobody'"), unknown.getStatus().getDescription());
            StatusRuntimeException lockout = assertThrows(StatusRuntimeException.class, () -> admin(c, c.adminToken)
                    .revokeToken(RevokeTokenRequest.newBuilder().setIdOrName("admin").build()));
            assertEquals(Status.Code.FAILED_PRECONDITION, lockout.getStatus().getCode(), "the last maintainer token stays");

            RevokeTokenResponse byId = admin(c, c.adminToken).revokeToken(RevokeTokenRequest.newBuilder().setIdOrName(bob.getInfo().getId()).build());
            assertEquals(List.of(bob.getInfo().getId()), byId.getRevokedList().stream().map(TokenInfo::getId).toList());
            StatusRuntimeException e = refused(c, bob.getToken());
            assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
            assertTrue(e.getStatus().getDescription().matches("token " + bob.getInfo().getId() + " of 'bob' was revoked at \\S+ by admin"),
                    e.getStatus().getDescription());
            HttpResponse<String> r = session(c, bob.getToken());
            assertEquals(401, r.statusCode(), r.body());
            assertTrue(r.body().contains("revoked at"), r.body());
            assertEquals("bob", admin(c, bob2.getToken()).whoAmI(WhoAmIRequest.getDefaultInstance()).getName(), "only that token");

            RevokeTokenResponse byName = admin(c, c.adminToken).revokeToken(RevokeTokenRequest.newBuilder().setIdOrName("carol").build());
            assertEquals(1, byName.getRevokedCount());
            assertEquals(Status.Code.UNAUTHENTICATED, refused(c, carol.getToken()).getStatus().getCode());

            c.stop();
            c.start(WITH_HTTP);
            assertEquals(Status.Code.UNAUTHENTICATED, refused(c, bob.getToken()).getStatus().getCode());
            assertEquals(401, session(c, carol.getToken()).statusCode());
            assertEquals("bob", admin(c, bob2.getToken()).whoAmI(WhoAmIRequest.getDefaultInstance()).getName());
            assertEquals("admin", admin(c, c.adminToken).whoAmI(WhoAmIRequest.getDefaultInstance()).getName(), "the bootstrap token never expires");
            List<TokenInfo> after = admin(c, c.adminToken).listTokens(ListTokensRequest.getDefaultInstance()).getTokensList();
            TokenInfo revoked = after.stream().filter(t -> t.getId().equals(bob.getInfo().getId())).findFirst().orElseThrow();
            assertTrue(revoked.getRevokedUnixMs() > 0);
            assertEquals("admin", revoked.getRevokedBy());
        }
    }

    @Test
    void aWatchOpenedBeforeARevocationEndsAtTheNextVersion() throws Exception {
        UnaryOperator<dev.merit.coordinator.Coordinator.Builder> auto = b -> b.policy(PolicyConfig.defaults().withPolicy(MergePolicy.AUTO));
        try (LoopbackCoordinator c = new LoopbackCoordinator(dir, auto)) {
            CreateTokenResponse walt = create(c, "walt", Role.READER, 0);
            BlockingQueue<Object> seen = new LinkedBlockingQueue<>();
            LoopbackCoordinator.with(VersionServiceGrpc.newStub(c.channel()), walt.getToken()).watchVersions(
                    WatchRequest.newBuilder().setBranch("main").build(), new StreamObserver<>() {
                        @Override
                        public void onNext(VersionEvent v) {
                            seen.add(v);
                        }

                        @Override
                        public void onError(Throwable t) {
                            seen.add(t);
                        }

                        @Override
                        public void onCompleted() {
                            seen.add("completed");
                        }
                    });
            // The watch starts once the call reaches the server: push until walt sees a version.
            Object first = null;
            for (int i = 1; i <= 10 && first == null; i++) {
                c.push("alice", c.head(), new long[] {i}, new float[] {0.5f}, "first " + i);
                first = seen.poll(3, TimeUnit.SECONDS);
            }
            assertTrue(first instanceof VersionEvent, String.valueOf(first));
            seen.clear();

            admin(c, c.adminToken).revokeToken(RevokeTokenRequest.newBuilder().setIdOrName("walt").build());
            c.push("alice", c.head(), new long[] {40}, new float[] {0.5f}, "second");
            Object next = seen.poll(30, TimeUnit.SECONDS);
            StatusRuntimeException e = assertInstanceOf(StatusRuntimeException.class, next, String.valueOf(next));
            assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
            assertTrue(e.getStatus().getDescription().contains("of 'walt' was revoked at"), e.getStatus().getDescription());
        }
    }
}
