package dev.merit.coordinator.harden;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.coordinator.proposals.RequestLimits;
import dev.merit.proto.v1.ListProposalsRequest;
import dev.merit.proto.v1.ListProposalsResponse;
import dev.merit.proto.v1.Proposal;
import dev.merit.proto.v1.ProposalStatus;
import dev.merit.proto.v1.ReviewRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One contributor cannot bloat everyone's listings or flood the service: bounded messages, a
 * per-contributor push rate, paged listings. A real coordinator on loopback gRPC.
 */
class RequestLimitsTest {

    private static final PolicyConfig MANUAL = PolicyConfig.defaults().withPolicy(MergePolicy.MANUAL);

    @TempDir
    Path dir;

    private static StatusRuntimeException status(Throwable t) {
        return assertInstanceOf(StatusRuntimeException.class, t instanceof ExecutionException ? t.getCause() : t);
    }

    /**
     * Before the fix: both 3 MB messages were stored (as proposals), and every later listing of
     * them failed with RESOURCE_EXHAUSTED at the client's 4 MiB message limit.
     */
    @Test
    void oversizedMessagesAreRefusedBeforeAnythingIsStored() throws Exception {
        try (LoopbackCoordinator c = new LoopbackCoordinator(dir, b -> b.policy(MANUAL))) {
            String huge = "x".repeat(3 << 20);
            for (int i = 0; i < 2; i++) {
                int k = i;
                StatusRuntimeException e = status(assertThrows(ExecutionException.class,
                        () -> c.push("mallory", c.v0, new long[] {k}, new float[] {1f}, huge + k)));
                assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
                assertEquals("proposal message: " + ((3 << 20) + 1) + " characters; the limit is 4096", e.getStatus().getDescription());
            }
            assertEquals(0, c.coord.proposals().store().list(p -> true, 100).size(), "nothing stored");

            Proposal p = c.push("alice", c.v0, new long[] {1}, new float[] {1f}, "a fine message");
            assertEquals(ProposalStatus.ACCEPTED, p.getStatus());
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> c.proposals(c.adminToken)
                    .review(ReviewRequest.newBuilder().setId(p.getId()).setApprove(false).setMessage("y".repeat(5000)).build()));
            assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
            assertTrue(e.getStatus().getDescription().startsWith("review message: 5000 characters"), e.getStatus().getDescription());
            assertEquals(dev.merit.coordinator.proposals.ProposalRecord.Status.ACCEPTED, c.coord.proposals().store().get(p.getId()).status(),
                    "the refused review changed nothing");
            assertEquals(1, c.proposals(c.adminToken).listProposals(ListProposalsRequest.getDefaultInstance()).getProposalsCount());
        }
    }

    /** Before the fix there was no rate limit: the fourth push of the minute was taken like the first. */
    @Test
    void pushesAreRateLimitedPerContributor() throws Exception {
        try (LoopbackCoordinator c = new LoopbackCoordinator(dir, b -> b.policy(MANUAL).requestLimits(new RequestLimits(4096, 3, 500)))) {
            for (int i = 0; i < 3; i++) {
                assertEquals(ProposalStatus.ACCEPTED, c.push("alice", c.v0, new long[] {i}, new float[] {1f}, "n" + i).getStatus());
            }
            StatusRuntimeException e = status(assertThrows(ExecutionException.class,
                    () -> c.push("alice", c.v0, new long[] {9}, new float[] {1f}, "one too many")));
            assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
            assertTrue(e.getStatus().getDescription().matches("contributor 'alice' started more than 3 pushes in a minute; retry in \\d+\\.\\d s"),
                    e.getStatus().getDescription());
            assertEquals(ProposalStatus.ACCEPTED, c.push("bob", c.v0, new long[] {9}, new float[] {1f}, "bob's first").getStatus(),
                    "another contributor has its own allowance");
        }
    }

    /** Before the fix a listing had no page token: one call returned everything up to the limit, no way on. */
    @Test
    void listingsComeInPagesThatCoverEveryProposalOnce() throws Exception {
        try (LoopbackCoordinator c = new LoopbackCoordinator(dir, b -> b.policy(MANUAL).requestLimits(new RequestLimits(4096, 120, 5)))) {
            List<String> pushed = new ArrayList<>();
            for (int i = 0; i < 7; i++) {
                pushed.add(c.push(i % 2 == 0 ? "alice" : "bob", c.v0, new long[] {i}, new float[] {1f}, "n" + i).getId());
            }
            List<String> seen = new ArrayList<>();
            String token = "";
            int pages = 0;
            do {
                ListProposalsResponse r = c.proposals(c.adminToken).listProposals(ListProposalsRequest.newBuilder().setLimit(3).setPageToken(token).build());
                assertTrue(r.getProposalsCount() <= 3);
                r.getProposalsList().forEach(p -> seen.add(p.getId()));
                token = r.getNextPageToken();
                pages++;
            } while (!token.isEmpty());
            assertEquals(3, pages);
            assertEquals(pushed.reversed(), seen, "newest first, each once");

            ListProposalsResponse capped = c.proposals(c.adminToken).listProposals(ListProposalsRequest.newBuilder().setLimit(1000).build());
            assertEquals(5, capped.getProposalsCount(), "never more than the page size");
            assertEquals(pushed.get(2), capped.getNextPageToken());

            ListProposalsResponse alices = c.proposals(c.contributor("alice")).listProposals(ListProposalsRequest.newBuilder().setLimit(2).build());
            assertEquals(List.of(pushed.get(6), pushed.get(4)), alices.getProposalsList().stream().map(Proposal::getId).toList());

            StatusRuntimeException bad = assertThrows(StatusRuntimeException.class, () -> c.proposals(c.adminToken)
                    .listProposals(ListProposalsRequest.newBuilder().setPageToken("'; drop").build()));
            assertEquals(Status.Code.INVALID_ARGUMENT, bad.getStatus().getCode());
        }
    }
}
