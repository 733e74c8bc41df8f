package dev.merit.coordinator;

import dev.merit.coordinator.auth.Principal;
import dev.merit.coordinator.auth.Role;
import dev.merit.error.InvalidInputException;
import dev.merit.error.NotFoundException;
import dev.merit.store.Commit;
import dev.merit.store.ObjectId;
import dev.merit.store.ObjectKind;
import dev.merit.store.Repository;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The coordinator's versions as a service, whatever the transport: branches, history, what a
 * client lacks to fetch a branch, publishing a new branch, and watching new versions. Each call
 * checks the caller's role.
 */
public final class VersionService {

    /** A branch head and its version number. */
    public record BranchHead(String name, ObjectId head, long number) {}

    /** What a fetch sends: the branch, then these objects (about {@code bytes} in all), read with {@link #read}. */
    public record FetchPlan(BranchHead branch, List<Map.Entry<ObjectKind, ObjectId>> objects, long bytes) {}

    private final Versions versions;
    private final Repository repo;

    public VersionService(Versions versions) {
        this.versions = versions;
        this.repo = versions.repository();
    }

    private BranchHead branch(String name, ObjectId head) {
        return new BranchHead(name, head, versions.number(head));
    }

    /** Every branch, by name. */
    public Map<String, BranchHead> branches(Principal who) {
        who.require(Role.READER, "listing branches");
        Map<String, BranchHead> out = new LinkedHashMap<>();
        repo.branches().forEach((n, id) -> out.put(n, branch(n, id)));
        return out;
    }

    /** A branch's history, newest first; {@code limit <= 0} means 50. */
    public List<Map.Entry<ObjectId, Commit>> log(Principal who, String branch, int limit) {
        who.require(Role.READER, "reading the log");
        return repo.log(versions.requireHead(branch), limit <= 0 ? 50 : limit);
    }

    /** The head of {@code branch} and the objects of its history the client, which has {@code have}, lacks. */
    public FetchPlan fetch(Principal who, String branch, List<ObjectId> have) {
        who.require(Role.READER, "fetching");
        ObjectId head = versions.requireHead(branch);
        List<Map.Entry<ObjectKind, ObjectId>> objects = repo.missingObjects(head, have);
        long bytes = objects.stream().mapToLong(e -> Math.max(0, repo.objectSize(e.getValue()))).sum();
        return new FetchPlan(branch(branch, head), objects, bytes);
    }

    /** One stored object of a {@link FetchPlan}. */
    public byte[] read(ObjectKind kind, ObjectId id) {
        return repo.readObject(kind, id).orElseThrow(() ->
                new NotFoundException(kind.name().toLowerCase() + " " + id + " is missing on the coordinator"));
    }

    /** Starts publishing {@code branch} at {@code commit} (maintainers); the branch must not exist. */
    public Publication publish(Principal who, String branch, ObjectId commit) {
        who.require(Role.MAINTAINER, "publishing a branch");
        if (versions.head(branch).isPresent()) {
            throw new CoordinatorException(CoordinatorException.Kind.ALREADY_EXISTS, "branch '" + branch
                    + "' already exists on the coordinator; pushes to it are proposals");
        }
        return new Publication(who, branch, commit);
    }

    /** Calls {@code onVersion} for each new version of {@code branch} (every branch if empty) until the handle is closed. */
    public AutoCloseable watch(Principal who, String branch, Consumer<Versions.NewVersion> onVersion) {
        who.require(Role.READER, "watching versions");
        Consumer<Versions.NewVersion> l = v -> {
            if (branch.isEmpty() || branch.equals(v.branch())) {
                onVersion.accept(v);
            }
        };
        versions.addListener(l);
        return () -> versions.removeListener(l);
    }

    /** A branch being published: the client's objects arrive, then {@link #finish} creates the branch. */
    public final class Publication {
        private final Principal who;
        private final String branch;
        private final ObjectId commit;

        private Publication(Principal who, String branch, ObjectId commit) {
            this.who = who;
            this.branch = branch;
            this.commit = commit;
        }

        /** Stores one object of the published history (it is checked against its id). */
        public void object(ObjectKind kind, ObjectId id, byte[] bytes) {
            repo.importObject(kind, id, bytes);
        }

        /** Creates the branch once every object of the commit's history is here; announces its first version. */
        public BranchHead finish() {
            if (repo.objectSize(commit) < 0) {
                throw new InvalidInputException("publish: commit " + commit + " was not sent");
            }
            for (Map.Entry<ObjectKind, ObjectId> e : repo.missingObjects(commit, List.of())) {
                if (repo.objectSize(e.getValue()) < 0) {
                    throw new InvalidInputException("publish: " + e.getKey().name().toLowerCase() + " " + e.getValue() + " was not sent");
                }
            }
            Versions.NewVersion v = versions.create(branch, commit, "publish by " + who.name());
            return new BranchHead(branch, v.commit(), v.number());
        }
    }
}
