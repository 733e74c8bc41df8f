package dev.merit.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.coordinator.auth.Principal;
import dev.merit.coordinator.auth.Role;
import dev.merit.coordinator.events.Topics;
import dev.merit.coordinator.events.VersionEvent;
import dev.merit.error.InvalidInputException;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.store.ObjectId;
import dev.merit.store.Repository;
import dev.merit.tensor.DType;
import dev.merit.testing.TestModels;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The versions service without a transport: roles, publishing through the one advance, and its compare-and-swap. */
class VersionServiceTest {

    private static final Principal ADMIN = new Principal("admin", Role.MAINTAINER);
    private static final Principal RITA = new Principal("rita", Role.READER);

    @TempDir
    Path dir;

    @Test
    void publishingCreatesABranchOnceWithItsEventAndAnnouncementAndRolesGateEveryCall() {
        Path model = TestModels.builder().seed(2).tensor("w", DType.F32, 16, 8).write(dir.resolve("m.safetensors"));
        try (Repository repo = Repository.init(dir.resolve("repo")); SafetensorsFile f = SafetensorsFile.open(model)) {
            ObjectId c = repo.commit().setSource(f).setMessage("base").call().id();
            AtomicInteger wakes = new AtomicInteger();
            Versions versions = new Versions(repo, wakes::incrementAndGet);
            VersionService service = new VersionService(versions);
            List<Versions.NewVersion> seen = new CopyOnWriteArrayList<>();
            service.watch(RITA, "exp", seen::add);

            CoordinatorException denied = assertThrows(CoordinatorException.class, () -> service.publish(RITA, "exp", c));
            assertEquals("'rita' has role reader; publishing a branch needs maintainer", denied.getMessage());

            // Two publications of one new branch race: the first advance wins, the second's swap fails.
            VersionService.Publication first = service.publish(ADMIN, "exp", c);
            VersionService.Publication second = service.publish(ADMIN, "exp", c);
            VersionService.BranchHead b = first.finish();
            assertEquals(new VersionService.BranchHead("exp", c, 0), b);
            CoordinatorException lost = assertThrows(CoordinatorException.class, second::finish);
            assertEquals(CoordinatorException.Kind.ALREADY_EXISTS, lost.kind());
            assertEquals("branch 'exp' was created meanwhile", lost.getMessage());
            assertEquals(CoordinatorException.Kind.ALREADY_EXISTS,
                    assertThrows(CoordinatorException.class, () -> service.publish(ADMIN, "exp", c)).kind());

            assertEquals(1, seen.size(), "watchers hear of the version once");
            assertEquals(1, wakes.get(), "the relay is woken after the batch with the event");
            List<VersionEvent> events = repo.outbox().pending(100).stream().filter(e -> e.topic().equals(Topics.VERSIONS))
                    .map(e -> VersionEvent.parse(e.value())).toList();
            assertEquals(List.of(new VersionEvent("exp", c.name(), List.of(), List.of(), "publish", repo.readCommit(c).time())), events);

            assertEquals(c, service.branches(RITA).get("exp").head());
            assertEquals("base", service.log(RITA, "exp", 0).getFirst().getValue().message());
            VersionService.FetchPlan plan = service.fetch(RITA, "exp", List.of(c));
            assertTrue(plan.objects().isEmpty(), "a client with the head lacks nothing: " + plan.objects());
            assertTrue(service.fetch(RITA, "exp", List.of()).bytes() > 0);
        }
    }

    @Test
    void publishingACommitWhoseObjectsDidNotArriveNamesTheMissingOne() {
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            VersionService service = new VersionService(new Versions(repo));
            ObjectId never = ObjectId.fromString("ef".repeat(32));
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> service.publish(ADMIN, "main", never).finish());
            assertTrue(e.getMessage().startsWith("publish: commit efefefefefef"), e.getMessage());
            assertTrue(repo.branches().isEmpty(), "nothing moved");
        }
    }
}
