package dev.merit.experiment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.merit.coordinator.Coordinator;
import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.error.InvalidInputException;
import dev.merit.merge.MergeParameters;
import dev.merit.merge.Strategy;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Q3 on its tiny configuration through real coordinators on loopback (in-process here; the CLI
 * starts merit serve processes with the same settings): every round merges, accuracies and bytes
 * are written as Markdown, JSON and plots.
 */
class CollaborationExperimentTest {

    @TempDir
    Path out;

    private final List<CollaborationExperiment.CoordinatorOptions> started = new ArrayList<>();

    private CollaborationExperiment.Running inProcess(Path dir, CollaborationExperiment.CoordinatorOptions o) {
        started.add(o);
        MergeParameters p = MergeParameters.defaults().with(Map.of("step_size", o.serverLr(), "average_over", o.averageOver()));
        PolicyConfig pc = PolicyConfig.defaults().withPolicy(MergePolicy.BATCH).withStrategy(Strategy.parse(o.strategy()))
                .withBatch(o.batchSize(), Duration.ofMinutes(60)).withParameters(p).withServerMomentum(o.serverMomentum());
        Coordinator c = Coordinator.builder(dir.resolve("coordinator")).listen("127.0.0.1", 0).policy(pc).start();
        return new CollaborationExperiment.Running("merit://127.0.0.1:" + c.port(), c.initialAdminToken().orElseThrow(), c);
    }

    @Test
    void quickRunMergesEveryRoundAndWritesAccuracyAndBytesPerRound() throws Exception {
        StringWriter progress = new StringWriter();
        CollaborationExperiment.Settings s = new CollaborationExperiment.Settings(1, 2, 2, List.of("naive", "ef-fisher", "topk-ef-m0.9"), "int8", true);
        Experiments.Outcome o = CollaborationExperiment.run(s, out, null, this::inProcess, new PrintWriter(progress));
        JsonNode json = new ObjectMapper().readTree(Files.readString(out.resolve("q3.json")));
        assertEquals(o.json().toString(), json.toString());
        assertEquals(List.of("average", "fisher", "average"), started.stream().map(CollaborationExperiment.CoordinatorOptions::strategy).toList());
        JsonNode runs = json.path("runs");
        for (String run : List.of("centralized", "fedavg-dense", "naive", "ef-fisher", "topk-ef-m0.9")) {
            JsonNode acc = runs.path(run).path("accuracy_mean");
            assertEquals(2, acc.size(), run);
            for (JsonNode a : acc) {
                assertTrue(a.asDouble() > 0.1 && a.asDouble() <= 1, run + ": " + a);
            }
        }
        long dense = json.path("dense_bytes_per_round").asLong();
        // mlp:784-32-10 has 25,450 parameters: two contributors' float32 deltas per round.
        assertEquals(2L * 4 * 25_450, dense);
        for (String run : List.of("naive", "ef-fisher", "topk-ef-m0.9")) {
            double bytes = runs.path(run).path("bytes_per_round").asDouble();
            assertTrue(bytes > 0 && bytes < dense / 4.0, run + " pushed " + bytes + " bytes per round");
        }
        // The Fisher travels with the fisher variant's proposals only.
        assertTrue(runs.path("ef-fisher").path("bytes_per_round").asDouble() > runs.path("naive").path("bytes_per_round").asDouble());
        assertTrue(Files.readString(out.resolve("q3.md")).contains("| fedavg-dense |"));
        assertTrue(Files.readString(out.resolve("q3-accuracy.svg")).contains("<polyline"));
        assertTrue(Files.readString(out.resolve("q3-bytes.svg")).startsWith("<svg"));
        assertTrue(Files.notExists(out.resolve("q3-work")), "the coordinators' and contributors' directories are removed");
    }

    @Test
    void unknownVariantIsNamedBeforeAnythingRuns() {
        CollaborationExperiment.Settings s = new CollaborationExperiment.Settings(1, 2, 2, List.of("ef", "fedfoo"), "int8", true);
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> CollaborationExperiment.run(s, out, null, this::inProcess, new PrintWriter(new StringWriter())));
        assertTrue(e.getMessage().contains("fedfoo"), e.getMessage());
        assertTrue(started.isEmpty());
        assertEquals(String.join(", ", CollaborationExperiment.defaultVariants()), CollaborationExperiment.VARIANT_NAMES);
    }
}
