package dev.merit.coordinator.grpc;

import dev.merit.coordinator.CoordinatorException;
import dev.merit.coordinator.auth.Principal;
import dev.merit.coordinator.auth.TokenStore;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;

/** Maps "authorization: Bearer TOKEN" to a {@link Principal} in the call's context; unknown or missing tokens end the call. */
final class AuthInterceptor implements ServerInterceptor {

    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    static final Context.Key<Principal> PRINCIPAL = Context.key("merit-principal");
    /** Checks the call's token again (throws UNAUTHENTICATED once it expired or was revoked): long streams call it as they go. */
    static final Context.Key<Runnable> RECHECK = Context.key("merit-token-recheck");

    private final TokenStore tokens;

    AuthInterceptor(TokenStore tokens) {
        this.tokens = tokens;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String h = headers.get(AUTHORIZATION);
        String token = h != null && h.regionMatches(true, 0, "Bearer ", 0, 7) ? h.substring(7).trim() : null;
        Principal p;
        try {
            p = tokens.authenticate(token);
        } catch (CoordinatorException e) {
            call.close(Errors.toStatus(e).getStatus(), new Metadata());
            return new ServerCall.Listener<>() {};
        }
        Runnable recheck = () -> tokens.authenticate(token);
        return Contexts.interceptCall(Context.current().withValue(PRINCIPAL, p).withValue(RECHECK, recheck), call, headers, next);
    }

    /** The current call's token check (capture it on the call's thread; a stream's callbacks run elsewhere). */
    static Runnable recheck() {
        Runnable r = RECHECK.get();
        return r != null ? r : () -> {};
    }

    static Principal principal() {
        Principal p = PRINCIPAL.get();
        if (p == null) {
            throw new CoordinatorException(CoordinatorException.Kind.UNAUTHENTICATED, "no authenticated caller");
        }
        return p;
    }
}
