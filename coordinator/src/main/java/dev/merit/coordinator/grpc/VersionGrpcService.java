package dev.merit.coordinator.grpc;

import dev.merit.coordinator.VersionService;
import dev.merit.coordinator.auth.Principal;
import dev.merit.error.InvalidInputException;
import dev.merit.proto.v1.FetchRequest;
import dev.merit.proto.v1.FetchResponse;
import dev.merit.proto.v1.FetchStart;
import dev.merit.proto.v1.ListBranchesRequest;
import dev.merit.proto.v1.ListBranchesResponse;
import dev.merit.proto.v1.LogRequest;
import dev.merit.proto.v1.LogResponse;
import dev.merit.proto.v1.PublishRequest;
import dev.merit.proto.v1.PublishResponse;
import dev.merit.proto.v1.VersionEvent;
import dev.merit.proto.v1.VersionServiceGrpc;
import dev.merit.proto.v1.WatchRequest;
import dev.merit.store.ObjectId;
import dev.merit.store.ObjectKind;
import dev.merit.wire.ObjectPieces;
import dev.merit.wire.WireConvert;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/** Adapts {@code merit.v1.VersionService} to {@link VersionService}: objects travel in pieces, the rest is conversion. */
final class VersionGrpcService extends VersionServiceGrpc.VersionServiceImplBase {

    private final VersionService versions;

    VersionGrpcService(VersionService versions) {
        this.versions = versions;
    }

    @Override
    public void listBranches(ListBranchesRequest req, StreamObserver<ListBranchesResponse> out) {
        Errors.unary(out, () -> ListBranchesResponse.newBuilder().addAllBranches(
                versions.branches(AuthInterceptor.principal()).values().stream().map(Convert::branch).toList()).build());
    }

    @Override
    public void log(LogRequest req, StreamObserver<LogResponse> out) {
        Errors.unary(out, () -> LogResponse.newBuilder().addAllEntries(
                versions.log(AuthInterceptor.principal(), req.getBranch(), req.getLimit()).stream()
                        .map(e -> Convert.logEntry(e.getKey(), e.getValue())).toList()).build());
    }

    @Override
    public void fetch(FetchRequest req, StreamObserver<FetchResponse> out) {
        VersionService.FetchPlan plan;
        try {
            List<ObjectId> have = req.getHaveList().stream().map(WireConvert::id).toList();
            plan = versions.fetch(AuthInterceptor.principal(), req.getBranch(), have);
        } catch (RuntimeException e) {
            out.onError(Errors.toStatus(e));
            return;
        }
        FetchResponse start = FetchResponse.newBuilder().setStart(FetchStart.newBuilder().setBranch(Convert.branch(plan.branch()))
                .setObjects(plan.objects().size()).setBytes(plan.bytes())).build();
        FlowControlled.send(out, new Iterator<>() {
            private boolean started;
            private final Iterator<Map.Entry<ObjectKind, ObjectId>> next = plan.objects().iterator();
            private final Deque<FetchResponse> pieces = new ArrayDeque<>();

            @Override
            public boolean hasNext() {
                return !started || !pieces.isEmpty() || next.hasNext();
            }

            @Override
            public FetchResponse next() {
                if (!started) {
                    started = true;
                    return start;
                }
                if (pieces.isEmpty()) {
                    if (!next.hasNext()) {
                        throw new NoSuchElementException();
                    }
                    Map.Entry<ObjectKind, ObjectId> e = next.next();
                    byte[] b = versions.read(e.getKey(), e.getValue());
                    ObjectPieces.split(e.getKey(), e.getValue(), b).forEach(p -> pieces.add(FetchResponse.newBuilder().setPiece(p).build()));
                }
                return pieces.poll();
            }
        });
    }

    @Override
    public StreamObserver<PublishRequest> publish(StreamObserver<PublishResponse> out) {
        Principal who = AuthInterceptor.principal();
        return new StreamObserver<>() {
            private VersionService.Publication publication;
            private ObjectPieces.Assembler in;
            private boolean done;

            @Override
            public void onNext(PublishRequest req) {
                if (done) {
                    return;
                }
                try {
                    if (req.hasStart()) {
                        publication = versions.publish(who, req.getStart().getBranch(), WireConvert.id(req.getStart().getCommit()));
                        in = new ObjectPieces.Assembler(publication::object);
                    } else if (publication == null) {
                        throw new InvalidInputException("publish: objects before the start message");
                    } else {
                        in.accept(req.getPiece());
                    }
                } catch (RuntimeException e) {
                    done = true;
                    out.onError(Errors.toStatus(e));
                }
            }

            @Override
            public void onError(Throwable t) {
                done = true; // imported objects stay; unreachable ones are what gc removes
            }

            @Override
            public void onCompleted() {
                if (done) {
                    return;
                }
                try {
                    if (publication == null) {
                        throw new InvalidInputException("publish: the stream ended without a start message");
                    }
                    in.finish();
                    VersionService.BranchHead b = publication.finish();
                    out.onNext(PublishResponse.newBuilder().setBranch(Convert.branch(b)).setObjectsImported(in.objects()).build());
                    out.onCompleted();
                } catch (RuntimeException e) {
                    out.onError(Errors.toStatus(e));
                }
            }
        };
    }

    @Override
    public void watchVersions(WatchRequest req, StreamObserver<VersionEvent> out) {
        ServerCallStreamObserver<VersionEvent> call = (ServerCallStreamObserver<VersionEvent>) out;
        Object lock = new Object();
        // A watch outlives many versions: its token is checked again before each one, so a revoked
        // or expired token stops receiving them.
        Runnable recheck = AuthInterceptor.recheck();
        java.util.concurrent.atomic.AtomicReference<AutoCloseable> self = new java.util.concurrent.atomic.AtomicReference<>();
        boolean[] ended = {false};
        AutoCloseable watch;
        try {
            watch = versions.watch(AuthInterceptor.principal(), req.getBranch(), v -> {
                synchronized (lock) {
                    if (ended[0]) {
                        return;
                    }
                    try {
                        recheck.run();
                    } catch (RuntimeException e) {
                        ended[0] = true;
                        closeQuietly(self.get());
                        call.onError(Errors.toStatus(e));
                        return;
                    }
                    call.onNext(Convert.event(v));
                }
            });
            self.set(watch);
        } catch (RuntimeException e) {
            out.onError(Errors.toStatus(e));
            return;
        }
        call.setOnCancelHandler(() -> closeQuietly(watch));
    }

    private static void closeQuietly(AutoCloseable watch) {
        if (watch == null) {
            return;
        }
        try {
            watch.close();
        } catch (Exception ignored) {
            // removing a listener does not fail
        }
    }
}
