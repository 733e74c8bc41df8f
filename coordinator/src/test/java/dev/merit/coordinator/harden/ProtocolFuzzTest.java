package dev.merit.coordinator.harden;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.coordinator.proposals.ProposalRecord;
import dev.merit.coordinator.proposals.RequestLimits;
import dev.merit.proto.v1.AdminServiceGrpc;
import dev.merit.proto.v1.CreateTokenRequest;
import dev.merit.proto.v1.GetProposalRequest;
import dev.merit.proto.v1.ListProposalsRequest;
import dev.merit.proto.v1.ListProposalsResponse;
import dev.merit.proto.v1.Proposal;
import dev.merit.proto.v1.ProposalStatus;
import dev.merit.proto.v1.ReviewRequest;
import dev.merit.proto.v1.Role;
import dev.merit.store.FsckReport;
import dev.merit.store.ObjectId;
import dev.merit.store.ProgressListener;
import dev.merit.store.Repository;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Protocol fuzz: a real coordinator (gRPC and HTTP on loopback) gets {@value #DEFAULT_CASES}
 * malformed or hostile gRPC inputs and as many HTTP requests, drawn from one seeded generator.
 * Every input must get a typed answer (a gRPC status other than UNKNOWN, INTERNAL, DATA_LOSS,
 * UNAVAILABLE or a missed deadline, or a rejected proposal; an HTTP 4xx, or 2xx for a read), must
 * change nothing a hostile input may not change (checked after each input: branch heads, the
 * pending proposal), and afterwards the store holds what it held before (refs, reflogs, every
 * record namespace; new proposal records are only the rejections the fuzz was answered with),
 * the stored rejections (hostile text and all) are still served over gRPC and HTTP, fsck finds
 * nothing, and a valid push is still accepted and merged.
 *
 * <p>{@code -Dmerit.fuzz.protocol.cases=N} sets the number of inputs per transport and
 * {@code -Dmerit.fuzz.protocol.seed=S} replays a run (the seed is printed; {@code random} draws one).
 */
class ProtocolFuzzTest {

    static final int DEFAULT_CASES = 1000;
    private static final long DEFAULT_SEED = 0x6d65726974L;
    private static final PolicyConfig MANUAL = PolicyConfig.defaults().withPolicy(MergePolicy.MANUAL);
    /** Record namespaces no hostile input may change (proposals are compared on their own; the outbox carries rejections' events). */
    private static final List<String> NAMESPACES = List.of("tokens", "keys", "proposal-deltas", "proposal-fishers", "proposal-grams",
            "proposal-gram-layouts", "proposal-digests", "proposal-payload-digests", "merge-queue", "outbox-unpublishable");

    @TempDir
    Path dir;

    static long seed() {
        String s = System.getProperty("merit.fuzz.protocol.seed", Long.toString(DEFAULT_SEED));
        return s.equals("random") ? new SplittableRandom().nextLong() : Long.decode(s);
    }

    /** What a hostile input must leave as it was. */
    record StoreState(Map<String, String> branches, Map<String, String> tags, Map<String, Integer> reflogs,
                      Map<String, String> namespaces, Map<String, String> proposals) {

        static StoreState of(Repository repo) {
            Map<String, String> branches = new TreeMap<>();
            repo.branches().forEach((k, v) -> branches.put(k, v.name()));
            Map<String, String> tags = new TreeMap<>();
            repo.tags().forEach((k, v) -> tags.put(k, v.name()));
            Map<String, Integer> reflogs = new TreeMap<>();
            branches.keySet().forEach(b -> reflogs.put(b, repo.reflog("refs/heads/" + b).size()));
            Map<String, String> namespaces = new TreeMap<>();
            for (String ns : NAMESPACES) {
                MessageDigest md = sha256();
                int[] n = {0};
                repo.scanRecords(ns, "", (k, v) -> {
                    md.update(k.getBytes(StandardCharsets.UTF_8));
                    md.update((byte) 0);
                    md.update(v);
                    n[0]++;
                });
                namespaces.put(ns, n[0] + " records, " + HexFormat.of().formatHex(md.digest()).substring(0, 16));
            }
            Map<String, String> proposals = new TreeMap<>();
            repo.scanRecords("proposals", "", (k, v) -> proposals.put(k, new String(v, StandardCharsets.UTF_8)));
            return new StoreState(branches, tags, reflogs, namespaces, proposals);
        }

        private static MessageDigest sha256() {
            try {
                return MessageDigest.getInstance("SHA-256");
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    @Test
    void hostileGrpcAndHttpInputsGetTypedAnswersAndChangeNothing() throws Exception {
        long seed = seed();
        int cases = Integer.getInteger("merit.fuzz.protocol.cases", DEFAULT_CASES);
        System.out.println("protocol fuzz: seed " + seed + ", " + cases + " inputs per transport (replay: -Dmerit.fuzz.protocol.seed=" + seed + ")");
        RequestLimits roomy = new RequestLimits(4096, 1_000_000, 500);
        try (LoopbackCoordinator c = new LoopbackCoordinator(dir, b -> b.policy(MANUAL).requestLimits(roomy).httpPort(0))) {
            // Something to aim at: a pending proposal, a rejected one, a reader and a second contributor.
            Proposal pending = c.push("alice", c.v0, new long[] {3, 70}, new float[] {0.01f, -0.02f}, "pending");
            assertEquals(ProposalStatus.ACCEPTED, pending.getStatus());
            Proposal rejected = c.push("alice", c.proposal("alice", c.v0, new long[] {5}, new float[] {Float.NaN}, "nan"));
            assertEquals(ProposalStatus.REJECTED, rejected.getStatus());
            c.contributor("bob");
            String reader = LoopbackCoordinator.with(AdminServiceGrpc.newBlockingStub(c.channel()), c.adminToken)
                    .createToken(CreateTokenRequest.newBuilder().setName("rita").setRole(Role.READER).build()).getToken();
            ObjectId head = c.head();
            Repository repo = c.coord.repository();
            StoreState before = StoreState.of(repo);

            SplittableRandom rng = new SplittableRandom(seed);
            Set<String> rejectedIds = new HashSet<>();
            FuzzLog grpc = new FuzzLog("gRPC", seed);
            GrpcFuzz gen = new GrpcFuzz(c, new Hostile(rng.split()), reader, pending.getId(), rejected.getId());
            java.util.function.Supplier<String> harm = () -> !c.head().equals(head) ? "the head of main moved"
                    : c.coord.proposals().store().get(pending.getId()).status() != ProposalRecord.Status.ACCEPTED ? "the pending proposal was decided"
                    : null;
            for (int i = 0; i < cases && !grpc.tooManyFailures(); i++) {
                GrpcFuzz.Input in = gen.next();
                GrpcFuzz.Answer a = in.send().get();
                grpc.answered(in.category(), a.code().name());
                if (a.rejectedId() != null) {
                    rejectedIds.add(a.rejectedId());
                }
                String broke = !GrpcFuzz.TYPED.contains(a.code()) ? "an untyped status"
                        : a.changedSomething() ? "success where a refusal was due"
                        : harm.get();
                if (broke != null) {
                    grpc.failed(i, in.category(), in.shown(), broke + ": " + a.detail());
                    if (harm.get() != null) {
                        break; // every later input would report the same change
                    }
                }
            }
            System.out.println(grpc.summary());

            FuzzLog http = new FuzzLog("HTTP", seed);
            HttpFuzz web = new HttpFuzz(c.coord.httpPort().orElseThrow(), new Hostile(rng.split()), c.adminToken, c.contributor("alice"),
                    reader, pending.getId(), rejected.getId());
            for (int i = 0; i < cases && !http.tooManyFailures(); i++) {
                HttpFuzz.Input in = web.next();
                HttpFuzz.Answer a = web.send(in);
                http.answered(in.category(), a.status() < 0 ? (a.status() == -1 ? "closed" : "no answer") : Integer.toString(a.status()));
                // 4xx for what is refused; 2xx/3xx only for what may be read (the checks after each input judge harm); never 5xx
                // or silence. Bytes that are not HTTP may also just be hung up on.
                String broke = a.status() >= 500 ? "a server error"
                        : a.status() == -2 ? "no answer"
                        : a.status() == -1 && !in.category().startsWith("framing") ? "no HTTP answer"
                        : harm.get();
                if (broke != null) {
                    http.failed(i, in.category(), in.shown(), broke + ": " + a.detail());
                    if (harm.get() != null) {
                        break; // every later input would report the same change
                    }
                }
            }
            System.out.println(http.summary());
            assertTrue(grpc.failures().isEmpty() && http.failures().isEmpty(), grpc.report() + "\n" + http.report());

            // The stored rejections hold hostile text (names, messages, reasons): each is still served.
            for (String id : rejectedIds) {
                assertEquals(id, c.proposals(c.adminToken).getProposal(GetProposalRequest.newBuilder().setId(id).build()).getId());
                HttpFuzz.Answer a = web.get("/api/proposals/" + id, c.adminToken);
                assertEquals(200, a.status(), id + ": " + a.detail());
            }
            int listed = 0;
            String page = "";
            do {
                ListProposalsResponse r = c.proposals(c.adminToken).listProposals(ListProposalsRequest.newBuilder().setPageToken(page).build());
                listed += r.getProposalsCount();
                page = r.getNextPageToken();
            } while (!page.isEmpty());
            assertEquals(before.proposals().size() + rejectedIds.size(), listed, "every proposal listed once");
            HttpFuzz.Answer all = web.get("/api/proposals?limit=10000", c.adminToken);
            assertEquals(200, all.status(), all.detail());

            StoreState after = StoreState.of(repo);
            assertEquals(before.branches(), after.branches(), "branches");
            assertEquals(before.tags(), after.tags(), "tags");
            assertEquals(before.reflogs(), after.reflogs(), "reflogs");
            assertEquals(before.namespaces(), after.namespaces(), "record namespaces");
            for (Map.Entry<String, String> e : before.proposals().entrySet()) {
                assertEquals(e.getValue(), after.proposals().get(e.getKey()), "proposal record " + e.getKey());
            }
            Set<String> added = new HashSet<>(after.proposals().keySet());
            added.removeAll(before.proposals().keySet());
            assertEquals(rejectedIds.size(), added.size(), "new proposal records are the rejections the fuzz was told of");
            for (String id : rejectedIds) {
                assertEquals(ProposalRecord.Status.REJECTED, c.coord.proposals().store().get(id).status(), id);
            }
            FsckReport fsck = repo.fsck(ProgressListener.NONE);
            assertTrue(fsck.ok(), "fsck: " + fsck.problems());

            // Still serving: a valid push is accepted and a maintainer merges it.
            Proposal fine = c.push("bob", c.v0, new long[] {11, 12}, new float[] {0.03f, 0.04f}, "after the fuzz");
            assertEquals(ProposalStatus.ACCEPTED, fine.getStatus(), fine.toString());
            Proposal merged = c.proposals(c.adminToken).review(ReviewRequest.newBuilder().setId(fine.getId()).setApprove(true).build());
            assertEquals(ProposalStatus.MERGED, merged.getStatus(), merged.toString());
            if (cases < 1) {
                fail("no inputs were generated");
            }
        }
    }
}
