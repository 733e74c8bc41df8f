package dev.merit.coordinator.grpc;

import dev.merit.coordinator.CoordinatorException;
import dev.merit.coordinator.Versions;
import dev.merit.coordinator.auth.Principal;
import dev.merit.coordinator.auth.Role;
import dev.merit.coordinator.events.Topics;
import dev.merit.error.InvalidInputException;
import dev.merit.error.NotFoundException;
import dev.merit.proto.v1.Branch;
import dev.merit.proto.v1.FetchRequest;
import dev.merit.proto.v1.FetchResponse;
import dev.merit.proto.v1.FetchStart;
import dev.merit.proto.v1.ListBranchesRequest;
import dev.merit.proto.v1.ListBranchesResponse;
import dev.merit.proto.v1.LogEntry;
import dev.merit.proto.v1.LogRequest;
import dev.merit.proto.v1.LogResponse;
import dev.merit.proto.v1.PublishRequest;
import dev.merit.proto.v1.PublishResponse;
import dev.merit.proto.v1.VersionEvent;
import dev.merit.proto.v1.VersionServiceGrpc;
import dev.merit.proto.v1.WatchRequest;
import dev.merit.store.Commit;
import dev.merit.store.ObjectId;
import dev.merit.store.ObjectKind;
import dev.merit.store.RefUpdate;
import dev.merit.store.Repository;
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
import java.util.Optional;
import java.util.function.Consumer;

/** Adapts {@code merit.v1.VersionService}: branches, log, fetch, publish and watch over the coordinator's repository. */
final class VersionGrpcService extends VersionServiceGrpc.VersionServiceImplBase {

    private final Repository repo;
    private final Versions versions;
    private final Runnable eventsWritten;

    VersionGrpcService(Versions versions, Runnable eventsWritten) {
        this.repo = versions.repository();
        this.versions = versions;
        this.eventsWritten = eventsWritten;
    }

    private Branch branch(String name, ObjectId head) {
        return Branch.newBuilder().setName(name).setHead(head.name()).setNumber(versions.number(head)).build();
    }

    @Override
    public void listBranches(ListBranchesRequest req, StreamObserver<ListBranchesResponse> out) {
        Errors.unary(out, () -> {
            AuthInterceptor.principal().require(Role.READER, "listing branches");
            ListBranchesResponse.Builder b = ListBranchesResponse.newBuilder();
            repo.branches().forEach((n, id) -> b.addBranches(branch(n, id)));
            return b.build();
        });
    }

    @Override
    public void log(LogRequest req, StreamObserver<LogResponse> out) {
        Errors.unary(out, () -> {
            AuthInterceptor.principal().require(Role.READER, "reading the log");
            ObjectId head = versions.requireHead(req.getBranch());
            LogResponse.Builder b = LogResponse.newBuilder();
            for (Map.Entry<ObjectId, Commit> e : repo.log(head, req.getLimit() <= 0 ? 50 : req.getLimit())) {
                Commit c = e.getValue();
                b.addEntries(LogEntry.newBuilder().setCommit(e.getKey().name())
                        .addAllParents(c.parents().stream().map(ObjectId::name).toList()).setAuthor(c.author())
                        .setMessage(c.message()).setTimeUnixMs(c.time().toEpochMilli())
                        .setProvenanceJson(c.provenance().toString()));
            }
            return b.build();
        });
    }

    @Override
    public void fetch(FetchRequest req, StreamObserver<FetchResponse> out) {
        List<Map.Entry<ObjectKind, ObjectId>> objects;
        ObjectId head;
        try {
            AuthInterceptor.principal().require(Role.READER, "fetching");
            head = versions.requireHead(req.getBranch());
            List<ObjectId> have = req.getHaveList().stream().map(WireConvert::id).toList();
            objects = repo.missingObjects(head, have);
        } catch (RuntimeException e) {
            out.onError(Errors.toStatus(e));
            return;
        }
        long bytes = objects.stream().mapToLong(e -> Math.max(0, repo.objectSize(e.getValue()))).sum();
        FetchResponse start = FetchResponse.newBuilder().setStart(FetchStart.newBuilder().setBranch(branch(req.getBranch(), head))
                .setObjects(objects.size()).setBytes(bytes)).build();
        FlowControlled.send(out, new Iterator<>() {
            private boolean started;
            private final Iterator<Map.Entry<ObjectKind, ObjectId>> next = objects.iterator();
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
                    byte[] b = repo.readObject(e.getKey(), e.getValue()).orElseThrow(() ->
                            new NotFoundException(e.getKey().name().toLowerCase() + " " + e.getValue() + " is missing on the coordinator"));
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
            private String branch;
            private ObjectId commit;
            private boolean done;
            private final ObjectPieces.Assembler in = new ObjectPieces.Assembler(repo::importObject);

            @Override
            public void onNext(PublishRequest req) {
                if (done) {
                    return;
                }
                try {
                    if (req.hasStart()) {
                        who.require(Role.MAINTAINER, "publishing a branch");
                        branch = req.getStart().getBranch();
                        commit = WireConvert.id(req.getStart().getCommit());
                        if (versions.head(branch).isPresent()) {
                            throw new CoordinatorException(CoordinatorException.Kind.ALREADY_EXISTS, "branch '" + branch
                                    + "' already exists on the coordinator; pushes to it are proposals");
                        }
                    } else if (branch == null) {
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
                    if (branch == null) {
                        throw new InvalidInputException("publish: the stream ended without a start message");
                    }
                    in.finish();
                    for (Map.Entry<ObjectKind, ObjectId> e : repo.missingObjects(commit, List.of())) {
                        if (repo.objectSize(e.getValue()) < 0) {
                            throw new InvalidInputException("publish: " + e.getKey().name().toLowerCase() + " " + e.getValue() + " was not sent");
                        }
                    }
                    Commit c = repo.readCommit(commit);
                    // The first version of a shared model is announced like every later one, in the same batch as the ref.
                    dev.merit.coordinator.events.VersionEvent event = new dev.merit.coordinator.events.VersionEvent(branch, commit.name(), c.parents().stream().map(ObjectId::name).toList(),
                            List.of(), "publish", c.time());
                    RefUpdate r = repo.updateBranch(branch, Optional.empty(), commit, "publish by " + who.name(),
                            tx -> tx.addEvent(Topics.VERSIONS, event.key(), event.toJson()));
                    if (r == RefUpdate.LOCK_FAILURE) {
                        throw new CoordinatorException(CoordinatorException.Kind.ALREADY_EXISTS, "branch '" + branch + "' was created meanwhile");
                    }
                    eventsWritten.run();
                    versions.announce(new Versions.NewVersion(branch, commit, c.parents(), List.of(), "publish", c.time(), versions.number(commit)));
                    out.onNext(PublishResponse.newBuilder().setBranch(branch(branch, commit)).setObjectsImported(in.objects()).build());
                    out.onCompleted();
                } catch (RuntimeException e) {
                    out.onError(Errors.toStatus(e));
                }
            }
        };
    }

    @Override
    public void watchVersions(WatchRequest req, StreamObserver<VersionEvent> out) {
        try {
            AuthInterceptor.principal().require(Role.READER, "watching versions");
        } catch (RuntimeException e) {
            out.onError(Errors.toStatus(e));
            return;
        }
        ServerCallStreamObserver<VersionEvent> call = (ServerCallStreamObserver<VersionEvent>) out;
        Object lock = new Object();
        Consumer<Versions.NewVersion> l = v -> {
            if (req.getBranch().isEmpty() || req.getBranch().equals(v.branch())) {
                synchronized (lock) {
                    call.onNext(Convert.event(v));
                }
            }
        };
        call.setOnCancelHandler(() -> versions.removeListener(l));
        versions.addListener(l);
    }
}
