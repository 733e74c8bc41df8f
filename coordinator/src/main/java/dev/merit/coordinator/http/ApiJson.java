package dev.merit.coordinator.http;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.coordinator.Json;
import dev.merit.coordinator.auth.Principal;
import dev.merit.coordinator.policy.PolicyRunner;
import dev.merit.coordinator.proposals.ProposalRecord;
import dev.merit.coordinator.review.Conflict;
import dev.merit.coordinator.review.ReviewService;
import dev.merit.coordinator.review.TensorChange;
import dev.merit.coordinator.validate.CheckResult;
import dev.merit.merge.MergeResult;
import dev.merit.merge.MergeStatistics;
import java.util.List;
import java.util.OptionalDouble;

/** The API's JSON documents, made from the review service's records in one place. NaN becomes null. */
final class ApiJson {

    private ApiJson() {}

    static ObjectNode session(Principal who) {
        return Json.object().put("name", who.name()).put("role", who.role().id());
    }

    static ObjectNode proposal(ReviewService.ProposalView v) {
        ProposalRecord r = v.record();
        ObjectNode n = Json.object();
        n.put("id", r.id());
        n.put("branch", r.branch());
        n.put("contributor", r.contributor());
        n.put("base_version", r.baseVersion());
        n.put("staleness_at_push", r.staleness());
        n.put("staleness", v.currentStaleness());
        n.put("status", r.status().name().toLowerCase());
        n.put("density", r.density());
        n.put("entries", r.entries());
        n.put("norm", r.norm());
        n.put("encoded_bytes", r.payloadBytes());
        n.put("dense_f32_bytes", v.denseBytes());
        n.put("example_count", r.exampleCount());
        n.put("has_fisher", r.hasFisher());
        n.put("message", r.message());
        n.put("created", r.created().toString());
        ArrayNode cs = n.putArray("checks");
        for (CheckResult c : r.checks()) {
            cs.addObject().put("name", c.name()).put("passed", c.passed()).put("detail", c.detail());
        }
        ArrayNode rs = n.putArray("reasons");
        r.reasons().forEach(rs::add);
        r.mergedIn().ifPresent(m -> n.put("merged_in", m));
        r.review().ifPresent(m -> n.put("review", m));
        if (v.gateBefore().isPresent()) {
            n.putObject("gate").put("before", v.gateBefore().getAsDouble()).put("after", v.gateAfter().orElse(Double.NaN));
        }
        return n;
    }

    static ObjectNode detail(ReviewService.ProposalDetail d) {
        ObjectNode n = proposal(d.proposal());
        ProposalRecord r = d.proposal().record();
        n.put("digest", r.digest());
        n.put("weight", r.weight());
        ObjectNode prov = n.putObject("provenance");
        prov.put("contributor", r.contributor());
        prov.put("base_version", r.baseVersion());
        prov.put("digest", r.digest());
        prov.put("example_count", r.exampleCount());
        prov.put("message", r.message());
        CheckResult sig = r.checks().stream().filter(c -> c.name().equals("signature")).findFirst().orElse(null);
        prov.put("signature", sig == null ? "not checked" : (sig.passed() ? "verified" : "failed"));
        prov.put("signature_detail", sig == null ? "" : sig.detail());
        ArrayNode ts = n.putArray("tensors");
        for (TensorChange t : d.tensors()) {
            ObjectNode o = ts.addObject();
            o.put("tensor", t.tensor());
            o.put("numel", t.numel());
            o.put("entries", t.entries());
            o.put("density", t.density());
            o.put("norm", t.norm());
            number(o, "base_norm", t.baseNorm());
            number(o, "relative_change", t.relativeChange());
            o.put("max_abs", t.maxAbs());
        }
        ArrayNode cs = n.putArray("conflicts");
        for (Conflict c : d.conflicts()) {
            ObjectNode o = cs.addObject();
            o.put("other", c.other());
            o.put("contributor", c.contributor());
            o.put("status", c.status());
            o.put("overlap", c.overlap());
            o.put("sign_agreements", c.signAgreements());
            number(o, "sign_agreement", c.signAgreement());
            number(o, "cosine", c.cosine());
            o.put("fights", c.fights());
            ArrayNode tn = o.putArray("tensors");
            c.tensors().forEach(tn::add);
        }
        return n;
    }

    static ObjectNode merged(List<ProposalRecord> merged) {
        ObjectNode n = Json.object();
        n.put("preview", false);
        n.put("commit", merged.getFirst().mergedIn().orElse(""));
        ArrayNode ps = n.putArray("proposals");
        merged.forEach(p -> ps.add(p.id()));
        return n;
    }

    static ObjectNode preview(String branch, String strategy, PolicyRunner.Preview p) {
        ObjectNode n = Json.object();
        n.put("preview", true);
        n.put("branch", branch);
        n.put("head", p.head());
        n.put("strategy", strategy);
        MergeResult r = p.result();
        n.put("tensors", r.tensors());
        n.put("entries", r.elements());
        n.put("bytes", r.bytes());
        n.put("seconds", r.nanos() / 1e9);
        r.statistics().ifPresent(s -> n.set("statistics", statistics(s)));
        score(n, "head_score", p.headScore());
        score(n, "gate_score", p.mergedScore());
        return n;
    }

    private static ObjectNode statistics(MergeStatistics s) {
        ObjectNode n = Json.object();
        ArrayNode in = n.putArray("inputs");
        s.inputs().forEach(in::add);
        n.set("overall", tensorStatistics(s.overall()));
        ArrayNode ts = n.putArray("tensors");
        s.tensors().forEach(t -> ts.add(tensorStatistics(t)));
        return n;
    }

    private static ObjectNode tensorStatistics(MergeStatistics.TensorStatistics t) {
        ObjectNode n = Json.object();
        n.put("tensor", t.tensor());
        n.put("numel", t.numel());
        ArrayNode sup = n.putArray("support");
        t.support().forEach(sup::add);
        ArrayNode norms = n.putArray("norms");
        t.norms().forEach(x -> norms.add(Double.isFinite(x) ? Json.MAPPER.getNodeFactory().numberNode(x) : Json.MAPPER.nullNode()));
        ArrayNode pairs = n.putArray("pairs");
        for (MergeStatistics.PairStatistics p : t.pairs()) {
            ObjectNode o = pairs.addObject();
            o.put("a", p.a());
            o.put("b", p.b());
            o.put("overlap", p.overlap());
            o.put("sign_agreements", p.signAgreements());
            number(o, "sign_agreement", p.signAgreement());
            number(o, "cosine", p.cosine());
        }
        return n;
    }

    static ObjectNode version(ReviewService.VersionView v) {
        ObjectNode n = Json.object();
        n.put("id", v.id());
        n.put("number", v.number());
        ArrayNode ps = n.putArray("parents");
        v.parents().forEach(ps::add);
        n.put("author", v.author());
        n.put("time", v.time().toString());
        n.put("message", v.message());
        v.strategy().ifPresent(s -> n.put("strategy", s));
        ArrayNode pr = n.putArray("proposals");
        v.proposals().forEach(pr::add);
        score(n, "score", v.score());
        return n;
    }

    private static void score(ObjectNode n, String field, OptionalDouble d) {
        if (d.isPresent()) {
            number(n, field, d.getAsDouble());
        }
    }

    private static void number(ObjectNode n, String field, double d) {
        if (Double.isFinite(d)) {
            n.put(field, d);
        } else {
            n.putNull(field);
        }
    }
}
