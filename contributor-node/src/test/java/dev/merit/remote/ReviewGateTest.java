package dev.merit.remote;

import static dev.merit.remote.ReviewFixture.body;
import static dev.merit.remote.ReviewFixture.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.coordinator.validate.QualityGate;
import dev.merit.coordinator.validate.ValidationConfig;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.store.ObjectId;
import dev.merit.store.ProgressListener;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** With a quality gate, the review API shows its scores: per proposal, and for a merge preview. */
class ReviewGateTest {

    @TempDir
    Path dir;

    @Test
    void gateScoresAppearInTheListAndInAMergePreview() throws Exception {
        Path target;
        try (CoordinatorFixture plain = new CoordinatorFixture(dir.resolve("plain"), PolicyConfig.defaults(), ValidationConfig.defaults(), null)) {
            target = Models.sparseTune(plain.base, dir.resolve("target.safetensors"), 0.05, 99);
        }
        ReviewAndQualityGateTest.DistanceTo evaluator = new ReviewAndQualityGateTest.DistanceTo(target);
        try (CoordinatorFixture fx = new CoordinatorFixture(dir.resolve("gated"), PolicyConfig.defaults().withPolicy(MergePolicy.MANUAL),
                ValidationConfig.defaults(), new QualityGate(evaluator, 1e9), b -> b.httpPort(0))) {
            ObjectId v0 = fx.head();
            Path tuned = Models.sparseTune(fx.base, dir.resolve("tuned.safetensors"), 0.01, 3);
            RemoteProposal p;
            try (RemoteClient alice = fx.client(fx.alice)) {
                p = alice.push(fx.proposal(fx.base, tuned, v0), ProgressListener.NONE).proposal();
            }
            double headScore;
            double tunedScore;
            try (SafetensorsFile b = SafetensorsFile.open(fx.base); SafetensorsFile t = SafetensorsFile.open(tuned)) {
                headScore = evaluator.score(b);
                tunedScore = evaluator.score(t);
            }
            String base = "http://127.0.0.1:" + fx.coord.httpPort().orElseThrow();
            HttpClient http = HttpClient.newHttpClient();
            HttpResponse<String> list = http.send(HttpRequest.newBuilder(URI.create(base + "/api/proposals"))
                    .header("Authorization", "Bearer " + fx.admin).build(), HttpResponse.BodyHandlers.ofString());
            JsonNode gate = json(list).get(0).path("gate");
            assertEquals(p.id(), json(list).get(0).path("id").asText());
            assertEquals(headScore, gate.path("before").asDouble(), Math.abs(headScore) * 1e-5, gate.toString());
            assertEquals(tunedScore, gate.path("after").asDouble(), Math.abs(tunedScore) * 1e-3, gate.toString());

            HttpResponse<String> preview = http.send(HttpRequest.newBuilder(URI.create(base + "/api/merges"))
                    .header("Authorization", "Bearer " + fx.admin).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(ReviewFixture.JSON.writeValueAsString(
                            body("branch", "main", "proposals", List.of(p.id()), "strategy", "average", "preview", true)))).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, preview.statusCode(), preview.body());
            JsonNode pv = json(preview);
            assertEquals(headScore, pv.path("head_score").asDouble(), Math.abs(headScore) * 1e-9);
            assertEquals(tunedScore, pv.path("gate_score").asDouble(), Math.abs(tunedScore) * 1e-3, pv.toString());
            assertTrue(pv.path("gate_score").asDouble() != pv.path("head_score").asDouble());
            assertEquals(v0, fx.head(), "a preview commits nothing");
        }
    }
}
