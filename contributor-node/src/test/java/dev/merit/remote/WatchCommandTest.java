package dev.merit.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.merit.cli.Main;
import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.coordinator.validate.ValidationConfig;
import dev.merit.store.ObjectId;
import dev.merit.store.ProgressListener;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** merit watch prints the versions the coordinator makes, and fails clearly without access. */
class WatchCommandTest {

    @TempDir
    Path dir;

    record Run(int code, String out, String err) {}

    private Run merit(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(dir, new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void printsNewVersionsAsJson() throws Exception {
        try (CoordinatorFixture fx = new CoordinatorFixture(dir, PolicyConfig.defaults().withPolicy(MergePolicy.AUTO),
                ValidationConfig.defaults(), null)) {
            CompletableFuture<Run> watch = CompletableFuture.supplyAsync(
                    () -> merit("watch", fx.url, "main", "-n", "1", "--json", "--timeout", "60", "--token", fx.admin));
            // The watch may subscribe after a version is made, so keep making versions until it reports one.
            ObjectId base = fx.head();
            for (int i = 0; i < 20 && !watch.isDone(); i++) {
                try (RemoteClient alice = fx.client(fx.alice)) {
                    Path tuned = Models.sparseTune(fx.base, dir.resolve("t" + i + ".safetensors"), 0.01, 40 + i);
                    alice.push(fx.proposal(fx.base, tuned, base), ProgressListener.NONE);
                }
                Thread.sleep(300);
            }
            Run r = watch.get(60, TimeUnit.SECONDS);
            assertEquals(0, r.code(), r::toString);
            JsonNode v = new ObjectMapper().readTree(r.out().lines().findFirst().orElseThrow());
            assertEquals("main", v.path("branch").asText());
            // The reported commit is a version the coordinator made.
            fx.coord.repository().readCommit(ObjectId.fromString(v.path("commit").asText()));
            assertTrue(v.path("number").asLong() >= 1, "a merged version after the published version 0: " + v);
            assertTrue(v.path("proposals").size() >= 1, v.toString());
        }
    }

    @Test
    void withoutATokenItFailsWithTheReason() {
        try (CoordinatorFixture fx = new CoordinatorFixture(dir, PolicyConfig.defaults(), ValidationConfig.defaults(), null)) {
            Run r = merit("watch", fx.url, "main", "--timeout", "20", "--token", "mrt_not-a-token");
            assertEquals(1, r.code(), r::toString);
            assertTrue(r.err().contains("UNAUTHENTICATED"), r.err());
        }
    }
}
