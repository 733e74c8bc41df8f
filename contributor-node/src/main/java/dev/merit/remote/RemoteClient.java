package dev.merit.remote;

import com.google.protobuf.ByteString;
import dev.merit.error.InvalidInputException;
import dev.merit.error.MeritException;
import dev.merit.proto.v1.AdminServiceGrpc;
import dev.merit.proto.v1.BackupRequest;
import dev.merit.proto.v1.BackupResponse;
import dev.merit.proto.v1.Branch;
import dev.merit.proto.v1.CreateTokenRequest;
import dev.merit.proto.v1.CreateTokenResponse;
import dev.merit.proto.v1.ListKeysRequest;
import dev.merit.proto.v1.ListTokensRequest;
import dev.merit.proto.v1.RevokeKeyRequest;
import dev.merit.proto.v1.RevokeTokenRequest;
import dev.merit.proto.v1.RotateKeyRequest;
import dev.merit.proto.v1.RotateKeyResponse;
import dev.merit.proto.v1.FetchRequest;
import dev.merit.proto.v1.FetchResponse;
import dev.merit.proto.v1.GetProposalRequest;
import dev.merit.proto.v1.GetUploadRequest;
import dev.merit.proto.v1.GetUploadResponse;
import dev.merit.proto.v1.ListBranchesRequest;
import dev.merit.proto.v1.ListProposalsRequest;
import dev.merit.proto.v1.ListProposalsResponse;
import dev.merit.proto.v1.LogEntry;
import dev.merit.proto.v1.LogRequest;
import dev.merit.proto.v1.Proposal;
import dev.merit.proto.v1.ProposalServiceGrpc;
import dev.merit.proto.v1.PublishRequest;
import dev.merit.proto.v1.PublishResponse;
import dev.merit.proto.v1.PublishStart;
import dev.merit.proto.v1.PushRequest;
import dev.merit.proto.v1.PushResponse;
import dev.merit.proto.v1.RegisterKeyRequest;
import dev.merit.proto.v1.ReviewRequest;
import dev.merit.proto.v1.VersionEvent;
import dev.merit.proto.v1.VersionServiceGrpc;
import dev.merit.proto.v1.WatchRequest;
import dev.merit.proto.v1.WhoAmIRequest;
import dev.merit.store.ObjectId;
import dev.merit.store.ObjectKind;
import dev.merit.store.ProgressListener;
import dev.merit.store.Repository;
import dev.merit.wire.ObjectPieces;
import dev.merit.wire.WireConvert;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.Context;
import io.grpc.ForwardingClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A connection to a coordinator. Every call has a deadline ({@link #UNARY_DEADLINE} for simple
 * calls, {@link #STREAM_DEADLINE} for transfers); failures surface as {@link RemoteException}
 * carrying the server's description.
 *
 * <pre>{@code
 * try (RemoteClient c = RemoteClient.connect("merit://127.0.0.1:7070", token)) {
 *     PushResult r = c.push(upload, ProgressListener.NONE);
 * }
 * }</pre>
 */
public final class RemoteClient implements AutoCloseable {

    public static final Duration UNARY_DEADLINE = Duration.ofSeconds(30);
    public static final Duration STREAM_DEADLINE = Duration.ofMinutes(30);
    /** Payload bytes per push message: well under gRPC's 4 MiB message limit. */
    public static final int PIECE = 1 << 20;
    private static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private final ManagedChannel channel;
    private final Channel calls;
    private final String target;
    /** Whether the channel speaks TLS (empty for a channel handed in), to explain a failed handshake. */
    private final Optional<Boolean> tls;

    private RemoteClient(ManagedChannel channel, Channel calls, String target, Optional<Boolean> tls) {
        this.channel = channel;
        this.calls = calls;
        this.target = target;
        this.tls = tls;
    }

    /**
     * Connects to {@code url} ({@code merit://HOST:PORT} or {@code HOST:PORT}; {@code merits://HOST:PORT}
     * for TLS checked against the system's certificate authorities) with a bearer token; extra
     * interceptors run closest to the transport (tests use one to cut streams).
     */
    public static RemoteClient connect(String url, String token, ClientInterceptor... extra) {
        return connect(Remote.of(url), token, extra);
    }

    /** Connects to {@code remote}, trusting its certificate as the remote says (CA file, pin). */
    public static RemoteClient connect(Remote remote, String token, ClientInterceptor... extra) {
        ManagedChannel ch = RemoteChannels.open(remote);
        List<ClientInterceptor> is = new ArrayList<>(List.of(extra));
        is.add(bearer(token));
        return new RemoteClient(ch, ClientInterceptors.intercept(ch, is), remote.target(), Optional.of(remote.tls()));
    }

    /** Connects over an existing channel (in-process tests). */
    public static RemoteClient over(ManagedChannel channel, String token) {
        return new RemoteClient(channel, ClientInterceptors.intercept(channel, bearer(token)), channel.authority(), Optional.empty());
    }

    public static String target(String url) {
        String t = url.startsWith(Remote.PLAIN_SCHEME) ? url.substring(Remote.PLAIN_SCHEME.length())
                : url.startsWith(Remote.TLS_SCHEME) ? url.substring(Remote.TLS_SCHEME.length()) : url;
        if (t.endsWith("/")) {
            t = t.substring(0, t.length() - 1);
        }
        if (!t.matches("[A-Za-z0-9.\\-\\[\\]:]+:\\d{1,5}")) {
            throw new InvalidInputException("remote URL '" + url + "': expected merit://HOST:PORT (or merits://HOST:PORT for TLS)");
        }
        return t;
    }

    private static ClientInterceptor bearer(String token) {
        return new ClientInterceptor() {
            @Override
            public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> m, CallOptions o, Channel next) {
                return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(m, o)) {
                    @Override
                    public void start(Listener<R> listener, Metadata headers) {
                        if (token != null && !token.isEmpty()) {
                            headers.put(AUTHORIZATION, "Bearer " + token);
                        }
                        super.start(listener, headers);
                    }
                };
            }
        };
    }

    private <S extends io.grpc.stub.AbstractStub<S>> S deadline(S stub, Duration d) {
        return stub.withDeadlineAfter(d.toMillis(), TimeUnit.MILLISECONDS);
    }

    private ProposalServiceGrpc.ProposalServiceBlockingStub proposals() {
        return deadline(ProposalServiceGrpc.newBlockingStub(calls), UNARY_DEADLINE);
    }

    private VersionServiceGrpc.VersionServiceBlockingStub versions(Duration d) {
        return deadline(VersionServiceGrpc.newBlockingStub(calls), d);
    }

    private AdminServiceGrpc.AdminServiceBlockingStub admin() {
        return deadline(AdminServiceGrpc.newBlockingStub(calls), UNARY_DEADLINE);
    }

    private <T> T call(String what, java.util.function.Supplier<T> c) {
        try {
            return c.get();
        } catch (StatusRuntimeException e) {
            throw RemoteException.of(what, target, e, tls);
        }
    }

    // ---------------------------------------------------------------- identity

    public RemoteIdentity whoAmI() {
        return ClientConvert.identity(call("whoami", () -> admin().whoAmI(WhoAmIRequest.getDefaultInstance())));
    }

    public String createToken(String name, RemoteIdentity.Role role) {
        return call("token create", () -> admin().createToken(CreateTokenRequest.newBuilder().setName(name)
                .setRole(ClientConvert.role(role)).build()).getToken());
    }

    /** Where a backup went on the coordinator's machine, and its size. */
    public record Backup(String directory, long bytes) {}

    /** Has the coordinator back its store up into {@code directory} (absolute, on its machine; maintainers). */
    public Backup backup(String directory) {
        BackupResponse r = call("admin backup", () -> deadline(AdminServiceGrpc.newBlockingStub(calls), STREAM_DEADLINE)
                .backup(BackupRequest.newBuilder().setDirectory(directory).build()));
        return new Backup(r.getDirectory(), r.getBytes());
    }

    public String registerKey(byte[] publicKey) {
        return call("key register", () -> admin().registerKey(RegisterKeyRequest.newBuilder()
                .setPublicKey(ByteString.copyFrom(publicKey)).build()).getFingerprint());
    }

    /** A new token (shown once) and how it is listed. */
    public record CreatedToken(String token, RemoteToken info) {}

    /** A token for {@code name} with {@code role}, valid until {@code expires} if given (maintainers). */
    public CreatedToken createToken(String name, RemoteIdentity.Role role, Optional<java.time.Instant> expires) {
        CreateTokenResponse r = call("token create", () -> admin().createToken(CreateTokenRequest.newBuilder().setName(name)
                .setRole(ClientConvert.role(role)).setExpiresUnixMs(expires.map(java.time.Instant::toEpochMilli).orElse(0L)).build()));
        return new CreatedToken(r.getToken(), ClientConvert.token(r.getInfo()));
    }

    /** Every token on the coordinator, oldest first, without the tokens (maintainers). */
    public List<RemoteToken> tokens() {
        return call("token list", () -> admin().listTokens(ListTokensRequest.getDefaultInstance()).getTokensList()
                .stream().map(ClientConvert::token).toList());
    }

    /** Revokes the token with that id, else every active token of that name (maintainers); returns what was revoked. */
    public List<RemoteToken> revokeToken(String idOrName) {
        return call("token revoke", () -> admin().revokeToken(RevokeTokenRequest.newBuilder().setIdOrName(idOrName).build())
                .getRevokedList().stream().map(ClientConvert::token).toList());
    }

    /** A rotation: the key it replaced and the new current key (fingerprints). */
    public record KeyRotation(String previous, String current) {}

    /** Makes {@code publicKey} the caller's current key; {@code proof}: the current key's signature of {@code KeyProofs.rotation}. */
    public KeyRotation rotateKey(byte[] publicKey, byte[] proof) {
        RotateKeyResponse r = call("key rotate", () -> admin().rotateKey(RotateKeyRequest.newBuilder()
                .setPublicKey(ByteString.copyFrom(publicKey)).setProof(ByteString.copyFrom(proof)).build()));
        return new KeyRotation(r.getPreviousFingerprint(), r.getFingerprint());
    }

    /** Revokes a key (its owner, or a maintainer); {@code proof}, if not empty, is the key's signature of {@code KeyProofs.revocation}. */
    public RemoteKey revokeKey(String fingerprint, byte[] proof) {
        return ClientConvert.key(call("key revoke", () -> admin().revokeKey(RevokeKeyRequest.newBuilder().setFingerprint(fingerprint)
                .setProof(ByteString.copyFrom(proof)).build())));
    }

    /** {@code contributor}'s keys (the caller's if empty), former ones too, the current one last. */
    public List<RemoteKey> keys(String contributor) {
        return call("key list", () -> admin().listKeys(ListKeysRequest.newBuilder().setContributor(contributor).build())
                .getKeysList().stream().map(ClientConvert::key).toList());
    }

    // ---------------------------------------------------------------- versions

    public Map<String, RemoteBranch> branches() {
        return call("list branches", () -> {
            Map<String, RemoteBranch> out = new java.util.TreeMap<>();
            for (Branch b : versions(UNARY_DEADLINE).listBranches(ListBranchesRequest.getDefaultInstance()).getBranchesList()) {
                out.put(b.getName(), ClientConvert.branch(b));
            }
            return out;
        });
    }

    public Optional<RemoteBranch> branch(String name) {
        return Optional.ofNullable(branches().get(name));
    }

    public List<RemoteCommit> log(String branch, int limit) {
        List<LogEntry> entries = call("log", () -> versions(UNARY_DEADLINE).log(LogRequest.newBuilder().setBranch(branch)
                .setLimit(limit).build()).getEntriesList());
        return entries.stream().map(e -> new RemoteCommit(e.getCommit(), e.getParentsList(), e.getAuthor(), e.getMessage(),
                java.time.Instant.ofEpochMilli(e.getTimeUnixMs()), e.getProvenanceJson())).toList();
    }

    /**
     * Copies the objects of {@code branch}'s head that {@code local} lacks into it (the commits it
     * has are named to the server); returns the remote branch. Moves no local ref.
     */
    public RemoteBranch fetch(Repository local, String branch, Collection<ObjectId> have, ProgressListener progress) {
        return call("fetch", () -> {
            FetchRequest.Builder req = FetchRequest.newBuilder().setBranch(branch);
            have.forEach(h -> req.addHave(WireConvert.id(h)));
            Iterator<FetchResponse> it = versions(STREAM_DEADLINE).fetch(req.build());
            if (!it.hasNext()) {
                throw new MeritException("fetch: the coordinator sent nothing");
            }
            FetchResponse first = it.next();
            if (!first.hasStart()) {
                throw new MeritException("fetch: the coordinator's stream did not start with the branch");
            }
            progress.start("fetch", first.getStart().getBytes());
            ObjectPieces.Assembler in = new ObjectPieces.Assembler((k, id, b) -> {
                local.importObject(k, id, b);
                progress.advance(b.length);
            });
            while (it.hasNext()) {
                in.accept(it.next().getPiece());
            }
            in.finish();
            progress.done();
            return ClientConvert.branch(first.getStart().getBranch());
        });
    }

    /** What publishing a branch made: the branch as the coordinator now has it, and how many objects it took in. */
    public record PublishResult(RemoteBranch branch, long objectsImported) {}

    /** Creates {@code branch} on the coordinator from {@code local}'s history up to {@code tip} (maintainers). */
    public PublishResult publish(Repository local, String branch, ObjectId tip, ProgressListener progress) {
        List<Map.Entry<ObjectKind, ObjectId>> objects = local.missingObjects(tip, List.of());
        long bytes = objects.stream().mapToLong(e -> Math.max(0, local.objectSize(e.getValue()))).sum();
        progress.start("publish", bytes);
        CompletableFuture<PublishResponse> result = new CompletableFuture<>();
        Sender<PublishRequest, PublishResponse> s = new Sender<>(result);
        deadline(VersionServiceGrpc.newStub(calls), STREAM_DEADLINE).publish(s);
        s.send(PublishRequest.newBuilder().setStart(PublishStart.newBuilder().setBranch(branch).setCommit(WireConvert.id(tip))
                .setObjects(objects.size()).setBytes(bytes)).build());
        for (Map.Entry<ObjectKind, ObjectId> e : objects) {
            byte[] b = local.readObject(e.getKey(), e.getValue()).orElseThrow();
            for (var piece : ObjectPieces.split(e.getKey(), e.getValue(), b)) {
                if (!s.send(PublishRequest.newBuilder().setPiece(piece).build())) {
                    break;
                }
            }
            progress.advance(b.length);
        }
        s.complete();
        PublishResponse r = await("publish", result);
        progress.done();
        return new PublishResult(ClientConvert.branch(r.getBranch()), r.getObjectsImported());
    }

    /** Calls {@code onVersion} for each new version of {@code branch} (all branches if empty) until the returned handle is closed. */
    public AutoCloseable watch(String branch, Duration deadline, Consumer<RemoteVersion> onVersion) {
        return watch(branch, deadline, onVersion, t -> {});
    }

    /** As {@link #watch(String, Duration, Consumer)}, telling {@code onError} why the stream ended if it failed. */
    public AutoCloseable watch(String branch, Duration deadline, Consumer<RemoteVersion> onVersion, Consumer<MeritException> onError) {
        Context.CancellableContext ctx = Context.current().withCancellation();
        ctx.run(() -> deadline(VersionServiceGrpc.newStub(calls), deadline).watchVersions(
                WatchRequest.newBuilder().setBranch(branch).build(), new StreamObserver<>() {
                    @Override
                    public void onNext(VersionEvent v) {
                        onVersion.accept(ClientConvert.version(v));
                    }

                    @Override
                    public void onError(Throwable t) {
                        onError.accept(t instanceof StatusRuntimeException s ? RemoteException.of("watch", target, s, tls)
                                : new MeritException("watch (" + target + "): " + t.getMessage(), t));
                    }

                    @Override
                    public void onCompleted() {}
                }));
        return () -> ctx.cancel(null);
    }

    // ---------------------------------------------------------------- proposals

    /** What a push ended with: the proposal as the coordinator stored it, and where the last stream started. */
    public record PushResult(RemoteProposal proposal, long resumedFrom, int attempts) {}

    /** Pushes with up to three attempts, resuming an interrupted upload from the coordinator's offset. */
    public PushResult push(ProposalUpload u, ProgressListener progress) {
        return push(u, progress, 3);
    }

    public PushResult push(ProposalUpload u, ProgressListener progress, int maxAttempts) {
        progress.start("push", u.payloadBytes());
        long offset = 0;
        for (int attempt = 1; ; attempt++) {
            try {
                PushResponse r = pushOnce(u, offset, progress);
                progress.done();
                return new PushResult(ClientConvert.proposal(r.getProposal()), r.getResumedFrom(), attempt);
            } catch (RemoteException e) {
                Status.Code c = e.code();
                boolean transient_ = c == Status.Code.UNAVAILABLE || c == Status.Code.CANCELLED || c == Status.Code.ABORTED
                        || c == Status.Code.DEADLINE_EXCEEDED || c == Status.Code.UNKNOWN;
                if (!transient_ || attempt >= maxAttempts) {
                    progress.done();
                    throw e;
                }
                sleep(200L * attempt);
                offset = uploadOffset(u.spec().uploadId()).orElse(0L);
            }
        }
    }

    /** Bytes the coordinator holds of an interrupted upload. */
    public Optional<Long> uploadOffset(String uploadId) {
        GetUploadResponse r = call("upload status", () -> proposals().getUpload(GetUploadRequest.newBuilder().setUploadId(uploadId).build()));
        return r.getExists() ? Optional.of(r.getOffset()) : Optional.empty();
    }

    private PushResponse pushOnce(ProposalUpload u, long offset, ProgressListener progress) {
        CompletableFuture<PushResponse> result = new CompletableFuture<>();
        Sender<PushRequest, PushResponse> s = new Sender<>(result);
        deadline(ProposalServiceGrpc.newStub(calls), STREAM_DEADLINE).push(s);
        s.send(PushRequest.newBuilder().setHeader(WireConvert.header(u.spec(), offset)).build());
        long at = 0;
        sections:
        for (byte[] sec : u.sections()) {
            for (int i = 0; i < sec.length; i += PIECE) {
                int n = Math.min(PIECE, sec.length - i);
                long end = at + n;
                if (end > offset) {
                    int skip = (int) Math.max(0, offset - at);
                    if (!s.send(PushRequest.newBuilder().setData(ByteString.copyFrom(sec, i + skip, n - skip)).build())) {
                        break sections; // the coordinator already answered (rejected early) or the stream broke
                    }
                    progress.advance(n - skip);
                }
                at = end;
            }
        }
        s.complete();
        return await("push", result);
    }

    /** Proposals of {@code branch} (every branch if empty), newest first, with {@code status} if given. */
    public List<RemoteProposal> proposals(String branch, Optional<RemoteProposal.Status> status, int limit) {
        List<Proposal> ps = call("proposals", () -> proposals().listProposals(ListProposalsRequest.newBuilder().setBranch(branch)
                .setStatus(ClientConvert.status(status)).setLimit(limit).build()).getProposalsList());
        return ps.stream().map(ClientConvert::proposal).toList();
    }

    /** One page of a listing: the proposals and the token of the next (older) page, empty after the last. */
    public record ProposalPage(List<RemoteProposal> proposals, String nextPageToken) {}

    /** A page of proposals, newest first, older than the one {@code pageToken} names (empty: from the newest). */
    public ProposalPage proposalPage(String branch, Optional<RemoteProposal.Status> status, int limit, String pageToken) {
        ListProposalsResponse r = call("proposals", () -> proposals().listProposals(ListProposalsRequest.newBuilder().setBranch(branch)
                .setStatus(ClientConvert.status(status)).setLimit(limit).setPageToken(pageToken).build()));
        return new ProposalPage(r.getProposalsList().stream().map(ClientConvert::proposal).toList(), r.getNextPageToken());
    }

    public RemoteProposal proposal(String id) {
        return ClientConvert.proposal(call("proposal " + id, () -> proposals().getProposal(GetProposalRequest.newBuilder().setId(id).build())));
    }

    public RemoteProposal review(String id, boolean approve, String message) {
        return ClientConvert.proposal(call("review " + id, () -> deadline(ProposalServiceGrpc.newBlockingStub(calls), STREAM_DEADLINE)
                .review(ReviewRequest.newBuilder().setId(id).setApprove(approve).setMessage(message == null ? "" : message).build())));
    }

    private <T> T await(String what, CompletableFuture<T> f) {
        try {
            return f.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof StatusRuntimeException s) {
                throw RemoteException.of(what, target, s, tls);
            }
            throw new MeritException(what + ": " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MeritException(what + ": interrupted");
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Sends a client stream no faster than the transport takes it (waiting for readiness), and
     * stops early once the server has answered.
     */
    private static final class Sender<Q, R> implements ClientResponseObserver<Q, R> {
        private final CompletableFuture<R> result;
        private ClientCallStreamObserver<Q> out;
        private final Object ready = new Object();

        Sender(CompletableFuture<R> result) {
            this.result = result;
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<Q> requestStream) {
            this.out = requestStream;
            requestStream.setOnReadyHandler(() -> {
                synchronized (ready) {
                    ready.notifyAll();
                }
            });
        }

        /** False if the call is over (answered or failed) and nothing more should be sent. */
        boolean send(Q msg) {
            synchronized (ready) {
                while (!out.isReady() && !result.isDone()) {
                    try {
                        ready.wait(50);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        out.cancel("interrupted", e);
                        return false;
                    }
                }
            }
            if (result.isDone()) {
                return false;
            }
            out.onNext(msg);
            return true;
        }

        void complete() {
            if (!result.isDone()) {
                out.onCompleted();
            }
        }

        @Override
        public void onNext(R value) {
            result.complete(value);
        }

        @Override
        public void onError(Throwable t) {
            result.completeExceptionally(t);
            synchronized (ready) {
                ready.notifyAll();
            }
        }

        @Override
        public void onCompleted() {
            result.completeExceptionally(Status.INTERNAL.withDescription("the coordinator ended the call without an answer").asRuntimeException());
        }
    }

    @Override
    public void close() {
        channel.shutdownNow();
        try {
            channel.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
