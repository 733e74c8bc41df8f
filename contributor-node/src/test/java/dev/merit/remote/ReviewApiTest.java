package dev.merit.remote;

import static dev.merit.remote.ReviewFixture.body;
import static dev.merit.remote.ReviewFixture.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.merit.store.ObjectId;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The review API over real HTTP against a real coordinator, proposals pushed over gRPC: each
 * endpoint with a valid request, without or with an unknown token (401), with a role that may not
 * act (403), an unknown id (404), a malformed body (400), and cross-site attempts.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ReviewApiTest {

    Path dir;
    ReviewFixture rf;
    final List<String> logged = new ArrayList<>();
    final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord r) {
            synchronized (logged) {
                logged.add(r.getLoggerName() + " " + r.getMessage() + " " + (r.getThrown() == null ? "" : r.getThrown()));
            }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    };

    @BeforeAll
    void start(@TempDir Path tmp) {
        dir = tmp;
        Logger.getLogger("").addHandler(capture);
        Logger.getLogger("dev.merit").setLevel(java.util.logging.Level.ALL);
        rf = new ReviewFixture(dir);
    }

    @AfterAll
    void stop() {
        rf.close();
        Logger.getLogger("").removeHandler(capture);
        Logger.getLogger("dev.merit").setLevel(null);
        synchronized (logged) {
            assertFalse(logged.isEmpty(), "the review actions log what was done");
            for (String line : logged) {
                for (String t : List.of(rf.fx.admin, rf.fx.alice, rf.reader)) {
                    assertFalse(line.contains(t), "a token appears in a log line: " + line);
                }
            }
        }
    }

    @Test
    void sessionNamesTheCallerAndRefusesMissingOrUnknownTokens() {
        JsonNode me = json(rf.get("/api/session", rf.fx.admin));
        assertEquals("admin", me.path("name").asText());
        assertEquals("maintainer", me.path("role").asText());
        assertEquals("reader", json(rf.get("/api/session", rf.reader)).path("role").asText());

        HttpResponse<String> none = rf.get("/api/session", null);
        assertEquals(401, none.statusCode());
        assertTrue(none.headers().firstValue("WWW-Authenticate").orElse("").startsWith("Bearer"));
        assertTrue(json(none).path("error").asText().contains("Authorization: Bearer"), none.body());
        HttpResponse<String> unknown = rf.get("/api/session", "mrt_not-a-real-token-at-all");
        assertEquals(401, unknown.statusCode());
        assertFalse(unknown.body().contains("not-a-real-token-at-all"), "an unknown token is not echoed whole: " + unknown.body());
        HttpResponse<String> basic = rf.send(rf.request("/api/session", null).header("Authorization", "Basic YWRtaW46eA==").GET().build());
        assertEquals(401, basic.statusCode());
        HttpResponse<String> inUrl = rf.get("/api/session?access_token=" + rf.fx.admin, null);
        assertEquals(400, inUrl.statusCode(), "a token in the URL is refused, not used");
        assertTrue(inUrl.body().contains("never in the URL"), inUrl.body());
        assertEquals(404, rf.get("/api/nothing-here", rf.fx.admin).statusCode());
    }

    @Test
    void listShowsProposalsWithChecksSizesAndFilters() {
        RemoteProposal p = rf.push();
        JsonNode all = json(rf.get("/api/proposals?branch=main", rf.fx.admin));
        JsonNode mine = find(all, p.id());
        assertEquals("alice", mine.path("contributor").asText());
        assertEquals("accepted", mine.path("status").asText());
        assertEquals(p.baseVersion(), mine.path("base_version").asText());
        assertTrue(mine.path("density").asDouble() > 0.005 && mine.path("density").asDouble() < 0.015, mine.toString());
        assertTrue(mine.path("encoded_bytes").asLong() > 0);
        assertEquals(4L * (200 * 100 + 1000 * 1000), mine.path("dense_f32_bytes").asLong(), "both float tensors as dense float32");
        assertTrue(mine.path("encoded_bytes").asLong() < mine.path("dense_f32_bytes").asLong() / 10);
        assertTrue(mine.path("checks").size() >= 4);
        mine.path("checks").forEach(c -> assertTrue(c.path("passed").asBoolean(), c.toString()));
        assertTrue(mine.path("gate").isMissingNode(), "no gate ran, so no gate score");

        assertTrue(has(json(rf.get("/api/proposals?status=pending&contributor=alice", rf.fx.admin)), p.id()));
        assertFalse(has(json(rf.get("/api/proposals?status=merged", rf.fx.admin)), p.id()));
        assertEquals(0, json(rf.get("/api/proposals?contributor=bob", rf.fx.admin)).size());
        assertTrue(has(json(rf.get("/api/proposals", rf.fx.alice)), p.id()), "a contributor sees its own");
        assertFalse(has(json(rf.get("/api/proposals", rf.reader)), p.id()), "a reader sees only its own, like over gRPC");

        HttpResponse<String> bad = rf.get("/api/proposals?status=lost", rf.fx.admin);
        assertEquals(400, bad.statusCode());
        assertTrue(json(bad).path("error").asText().contains("status 'lost'"), bad.body());
        assertEquals(400, rf.get("/api/proposals?limit=-3", rf.fx.admin).statusCode());
        assertEquals(401, rf.get("/api/proposals", null).statusCode());
        assertEquals(405, rf.post("/api/proposals", rf.fx.admin, "{}").statusCode());
    }

    @Test
    void detailHasPerTensorStatisticsAndConflictsWithOtherWaitingProposals() {
        Path tuned = Models.sparseTune(rf.headFile(), dir.resolve("detail-tune.safetensors"), 0.01, 7001);
        RemoteProposal p = rf.push(tuned);
        RemoteProposal opposite = rf.push(rf.opposite(tuned, dir.resolve("detail-opposite.safetensors")));

        JsonNode d = json(rf.get("/api/proposals/" + p.id(), rf.fx.admin));
        assertEquals(p.id(), d.path("id").asText());
        assertEquals("verified", d.path("provenance").path("signature").asText());
        JsonNode ts = d.path("tensors");
        assertEquals(2, ts.size(), "the two float tensors changed: " + ts);
        long entries = 0;
        for (JsonNode t : ts) {
            entries += t.path("entries").asLong();
            assertEquals(t.path("norm").asDouble() / t.path("base_norm").asDouble(), t.path("relative_change").asDouble(), 1e-9);
            assertEquals((double) t.path("entries").asLong() / t.path("numel").asLong(), t.path("density").asDouble(), 1e-12);
            assertTrue(t.path("max_abs").asDouble() > 0 && t.path("max_abs").asDouble() <= t.path("norm").asDouble());
        }
        assertEquals(d.path("entries").asLong(), entries);
        JsonNode c = conflict(d, opposite.id());
        assertEquals(entries, c.path("overlap").asLong(), "the opposite change touches the same entries");
        assertEquals(0, c.path("sign_agreements").asLong());
        assertEquals(-1.0, c.path("cosine").asDouble(), 1e-3);
        assertTrue(c.path("fights").asBoolean());

        // The same change again is no new proposal: the answer is the original, still waiting for review.
        RemoteProposal again;
        try (RemoteClient alice = rf.fx.client(rf.fx.alice)) {
            again = alice.push(rf.fx.proposal(rf.headFile(), tuned, rf.fx.head()), dev.merit.store.ProgressListener.NONE).proposal();
        }
        assertEquals(p.id(), again.id());
        assertEquals(RemoteProposal.Status.ACCEPTED, again.status(), again.toString());

        assertEquals(200, rf.get("/api/proposals/" + p.id(), rf.fx.alice).statusCode(), "its author reads it");
        assertEquals(403, rf.get("/api/proposals/" + p.id(), rf.reader).statusCode(), "another reader does not");
        assertEquals(404, rf.get("/api/proposals/p999999", rf.fx.admin).statusCode());
        assertEquals(404, rf.get("/api/proposals/not-an-id", rf.fx.admin).statusCode());
        assertEquals(401, rf.get("/api/proposals/" + p.id(), null).statusCode());
    }

    @Test
    void approveMergesAndRejectNeedsAReasonAndAMaintainer() {
        RemoteProposal a = rf.push();
        RemoteProposal b = rf.push();
        String approve = "/api/proposals/" + a.id() + "/approve";
        String reject = "/api/proposals/" + b.id() + "/reject";
        ObjectId before = rf.fx.head();

        assertEquals(401, rf.post(approve, null, body()).statusCode());
        assertEquals(401, rf.post(approve, "mrt_unknown", body()).statusCode());
        HttpResponse<String> contributor = rf.post(approve, rf.fx.alice, body("message", "self"));
        assertEquals(403, contributor.statusCode());
        assertTrue(json(contributor).path("error").asText().contains("needs maintainer"), contributor.body());
        assertEquals(403, rf.post(reject, rf.reader, body("reason", "no")).statusCode());
        assertEquals(404, rf.post("/api/proposals/p888888/approve", rf.fx.admin, body()).statusCode());
        HttpResponse<String> noReason = rf.post(reject, rf.fx.admin, body());
        assertEquals(400, noReason.statusCode());
        assertEquals("field 'reason' is required", json(noReason).path("error").asText());
        assertEquals(400, rf.post(reject, rf.fx.admin, body("reason", 42)).statusCode());
        HttpResponse<String> broken = rf.post(reject, rf.fx.admin, "{\"reason\": ");
        assertEquals(400, broken.statusCode());
        assertTrue(json(broken).path("error").asText().startsWith("request body is not valid JSON"), broken.body());
        assertEquals(400, rf.post(reject, rf.fx.admin, "[1,2]").statusCode());
        assertEquals(before, rf.fx.head(), "refused requests change nothing");

        HttpResponse<String> rejected = rf.post(reject, rf.fx.admin, body("reason", "overfits the shard"));
        assertEquals(200, rejected.statusCode(), rejected.body());
        assertEquals("rejected", json(rejected).path("status").asText());
        assertTrue(rf.fx.coord.proposals().store().get(b.id()).review().orElseThrow().contains("overfits the shard"));
        assertEquals(2, json(rf.get("/api/proposals/" + b.id(), rf.fx.admin)).path("tensors").size(),
                "a proposal rejected in review keeps its payload, so its change can still be read");

        HttpResponse<String> merged = rf.post(approve, rf.fx.admin, body("message", "good"));
        assertEquals(200, merged.statusCode(), merged.body());
        assertEquals("merged", json(merged).path("status").asText());
        assertEquals(rf.fx.head().name(), json(merged).path("merged_in").asText());
        assertNotEquals(before, rf.fx.head());
        assertTrue(rf.fx.coord.repository().readCommit(rf.fx.head()).message().contains(a.id()));
        assertEquals(409, rf.post(approve, rf.fx.admin, body()).statusCode(), "a merged proposal cannot be approved again");
    }

    @Test
    void crossSiteRequestsCannotAct() {
        RemoteProposal p = rf.push();
        String approve = "/api/proposals/" + p.id() + "/approve";
        ObjectId before = rf.fx.head();
        // A forged form post: form-encoded, the browser's cookies, no Authorization header.
        HttpResponse<String> form = rf.send(rf.request(approve, null).header("Content-Type", "application/x-www-form-urlencoded")
                .header("Cookie", "token=" + rf.fx.admin + "; merit_token=" + rf.fx.admin).header("Origin", "http://evil.example")
                .POST(HttpRequest.BodyPublishers.ofString("message=pwned")).build());
        assertTrue(form.statusCode() == 401 || form.statusCode() == 403 || form.statusCode() == 415, form.statusCode() + " " + form.body());
        // Cookies alone never authenticate.
        assertEquals(401, rf.send(rf.request(approve, null).header("Content-Type", "application/json")
                .header("Cookie", "token=" + rf.fx.admin).POST(HttpRequest.BodyPublishers.ofString("{}")).build()).statusCode());
        // Even with a stolen header, another site's Origin is refused, and a form body is refused.
        HttpResponse<String> otherOrigin = rf.send(rf.request(approve, rf.fx.admin).header("Content-Type", "application/json")
                .header("Origin", "http://evil.example").POST(HttpRequest.BodyPublishers.ofString("{}")).build());
        assertEquals(403, otherOrigin.statusCode());
        assertTrue(json(otherOrigin).path("error").asText().contains("cross-site"), otherOrigin.body());
        assertEquals(415, rf.send(rf.request(approve, rf.fx.admin).header("Content-Type", "text/plain")
                .POST(HttpRequest.BodyPublishers.ofString("{}")).build()).statusCode());
        assertEquals(before, rf.fx.head());
        assertEquals("accepted", json(rf.get("/api/proposals/" + p.id(), rf.fx.admin)).path("status").asText());
        // The same request from the page's own origin works.
        assertEquals(200, rf.send(rf.request(approve, rf.fx.admin).header("Content-Type", "application/json")
                .header("Origin", rf.base).POST(HttpRequest.BodyPublishers.ofString("{}")).build()).statusCode());
    }

    @Test
    void mergesPreviewWithoutCommittingAndMergeChosenProposalsWithAStrategy() {
        RemoteProposal a = rf.push();
        RemoteProposal b = rf.push();
        ObjectId before = rf.fx.head();
        var req = body("branch", "main", "proposals", List.of(a.id(), b.id()), "strategy", "task_arithmetic",
                "parameters", body("lambda", 0.5), "preview", true);
        HttpResponse<String> preview = rf.post("/api/merges", rf.fx.admin, req);
        assertEquals(200, preview.statusCode(), preview.body());
        JsonNode pv = json(preview);
        assertTrue(pv.path("preview").asBoolean());
        assertEquals(before.name(), pv.path("head").asText());
        JsonNode stats = pv.path("statistics");
        assertEquals(List.of(a.id(), b.id()), List.of(stats.path("inputs").get(0).asText(), stats.path("inputs").get(1).asText()));
        assertEquals(1, stats.path("overall").path("pairs").size());
        assertTrue(stats.path("overall").path("support").get(0).asLong() > 0);
        assertTrue(pv.path("entries").asLong() > 0);
        assertEquals(before, rf.fx.head(), "a preview commits nothing");
        assertEquals("accepted", rf.fx.coord.proposals().store().get(a.id()).status().name().toLowerCase());

        assertEquals(403, rf.post("/api/merges", rf.fx.alice, req).statusCode());
        assertEquals(403, rf.post("/api/merges", rf.reader, req).statusCode());
        assertEquals(401, rf.post("/api/merges", null, req).statusCode());
        assertEquals(400, rf.post("/api/merges", rf.fx.admin, body("branch", "main", "proposals", a.id(), "strategy", "average")).statusCode());
        HttpResponse<String> badStrategy = rf.post("/api/merges", rf.fx.admin, body("branch", "main", "proposals", List.of(a.id()), "strategy", "magic"));
        assertEquals(400, badStrategy.statusCode());
        assertTrue(json(badStrategy).path("error").asText().contains("magic"), badStrategy.body());
        assertEquals(400, rf.post("/api/merges", rf.fx.admin, body("branch", "main", "proposals", List.of(a.id()), "strategy", "average",
                "parameters", body("nonsense", 1))).statusCode());
        assertEquals(400, rf.post("/api/merges", rf.fx.admin, body("branch", "main", "proposals", List.of(), "strategy", "average")).statusCode());
        assertEquals(404, rf.post("/api/merges", rf.fx.admin, body("branch", "main", "proposals", List.of("p777777"), "strategy", "average")).statusCode());
        assertEquals(404, rf.post("/api/merges", rf.fx.admin, body("branch", "nope", "proposals", List.of(a.id()), "strategy", "average")).statusCode());
        assertEquals(before, rf.fx.head());

        req.put("preview", false);
        HttpResponse<String> merged = rf.post("/api/merges", rf.fx.admin, req);
        assertEquals(200, merged.statusCode(), merged.body());
        ObjectId after = rf.fx.head();
        assertEquals(after.name(), json(merged).path("commit").asText());
        var prov = rf.fx.coord.repository().readCommit(after).provenance().path("merge");
        assertEquals("task-arithmetic", prov.path("strategy").asText());
        assertEquals(0.5, prov.path("parameters").path("lambda").asDouble());
        assertEquals(2, prov.path("proposals").size());
        assertEquals(409, rf.post("/api/merges", rf.fx.admin, req).statusCode(), "merged proposals cannot be merged again");
    }

    @Test
    void versionsListTheBranchHistoryWithStrategyAndProposals() {
        RemoteProposal p = rf.push();
        assertEquals(200, rf.post("/api/proposals/" + p.id() + "/approve", rf.fx.admin, body()).statusCode());
        JsonNode vs = json(rf.get("/api/branches/main/versions", rf.reader));
        assertEquals(rf.fx.head().name(), vs.get(0).path("id").asText());
        assertEquals(p.id(), vs.get(0).path("proposals").get(0).asText());
        assertEquals("average", vs.get(0).path("strategy").asText());
        assertEquals(vs.get(1).path("id").asText(), vs.get(0).path("parents").get(0).asText());
        JsonNode first = vs.get(vs.size() - 1);
        assertEquals(0, first.path("number").asLong());
        assertEquals(rf.fx.v0.name(), first.path("id").asText());
        assertTrue(first.path("score").isMissingNode(), "no evaluation recorded, so no score");
        assertEquals(vs.size() - 1, vs.get(0).path("number").asLong());

        assertEquals(404, rf.get("/api/branches/nope/versions", rf.reader).statusCode());
        assertEquals(401, rf.get("/api/branches/main/versions", null).statusCode());
        assertEquals(405, rf.post("/api/branches/main/versions", rf.fx.admin, "{}").statusCode());
        assertEquals("main", json(rf.get("/api/branches", rf.reader)).get(0).asText());
    }

    @Test
    void versionsCarryTheEvaluationScoreRecordedInTheirProvenance() {
        ObjectId tip = rf.publishScored("scored", 0.5, 0.6, 0.7);
        JsonNode vs = json(rf.get("/api/branches/scored/versions", rf.reader));
        assertEquals(3, vs.size());
        assertEquals(tip.name(), vs.get(0).path("id").asText());
        assertEquals(0.7, vs.get(0).path("score").asDouble(), 1e-12);
        assertEquals(0.5, vs.get(2).path("score").asDouble(), 1e-12);
        assertTrue(vs.get(0).path("strategy").isMissingNode(), "not a merge");
    }

    @Test
    void eventsStreamNewProposalsAndVersionsFromTheOutbox() throws Exception {
        assertEquals(401, rf.get("/api/events", null).statusCode());
        HttpResponse<InputStream> stream = rf.client().send(rf.request("/api/events", rf.fx.admin).GET().build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, stream.statusCode());
        assertTrue(stream.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        try (BufferedReader r = new BufferedReader(new InputStreamReader(stream.body(), StandardCharsets.UTF_8))) {
            assertTrue(r.readLine().startsWith(": merit events"), "the stream opens at once");
            RemoteProposal p = rf.push();
            CompletableFuture<List<String>> seen = CompletableFuture.supplyAsync(() -> {
                List<String> lines = new ArrayList<>();
                try {
                    for (String line; (line = r.readLine()) != null; ) {
                        lines.add(line);
                        if (line.startsWith("data: ") && line.contains("\"" + p.id() + "\"")) {
                            return lines;
                        }
                    }
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                return lines;
            });
            List<String> lines = seen.get(30, TimeUnit.SECONDS);
            assertTrue(lines.contains("event: proposal"), lines.toString());
            assertTrue(lines.stream().anyMatch(l -> l.startsWith("id: ")), lines.toString());
            JsonNode ev = ReviewFixture.JSON.readTree(lines.getLast().substring(6));
            assertEquals("accepted", ev.path("status").asText());
            assertEquals("alice", ev.path("contributor").asText());
        }
    }

    @Test
    void thePageIsServedWithAStrictContentSecurityPolicy() {
        HttpResponse<String> page = rf.get("/", null);
        assertEquals(200, page.statusCode());
        String csp = page.headers().firstValue("Content-Security-Policy").orElseThrow();
        assertTrue(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"), csp);
        assertTrue(page.body().contains("<script src=\"app.js\""));
        assertFalse(page.body().matches("(?s).*<script>.*|.*\\son[a-z]+=\".*"), "no inline script or handler");
        assertEquals("nosniff", page.headers().firstValue("X-Content-Type-Options").orElseThrow());
        HttpResponse<String> js = rf.get("/app.js", null);
        assertTrue(js.headers().firstValue("Content-Type").orElseThrow().startsWith("text/javascript"));
        assertFalse(js.body().contains("http://") || js.body().contains("https://"), "the page loads nothing from elsewhere");
        assertEquals(404, rf.get("/../pom.xml", null).statusCode());
        assertEquals(404, rf.get("/secret.txt", null).statusCode());
        assertTrue(rf.get("/api/session", rf.fx.admin).headers().firstValue("Content-Security-Policy").isPresent());
    }

    private static JsonNode find(JsonNode list, String id) {
        for (JsonNode n : list) {
            if (n.path("id").asText().equals(id)) {
                return n;
            }
        }
        throw new AssertionError(id + " not in " + list);
    }

    private static boolean has(JsonNode list, String id) {
        for (JsonNode n : list) {
            if (n.path("id").asText().equals(id)) {
                return true;
            }
        }
        return false;
    }

    private static JsonNode conflict(JsonNode detail, String other) {
        for (JsonNode c : detail.path("conflicts")) {
            if (c.path("other").asText().equals(other)) {
                return c;
            }
        }
        throw new AssertionError("no conflict with " + other + " in " + detail.path("conflicts"));
    }
}
