package dev.merit.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.coordinator.validate.Evaluator;
import dev.merit.coordinator.validate.QualityGate;
import dev.merit.coordinator.validate.ValidationConfig;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.store.ObjectId;
import dev.merit.store.ProgressListener;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import io.grpc.Status;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The manual policy (maintainers approve or reject) and the quality gate with a test evaluator. */
class ReviewAndQualityGateTest {

    @TempDir
    Path dir;

    @Test
    void manualPolicyWaitsForAMaintainer() {
        try (CoordinatorFixture fx = new CoordinatorFixture(dir, PolicyConfig.defaults().withPolicy(MergePolicy.MANUAL),
                ValidationConfig.defaults(), null)) {
            ObjectId v0 = fx.head();
            RemoteProposal p1;
            RemoteProposal p2;
            try (RemoteClient alice = fx.client(fx.alice)) {
                p1 = alice.push(fx.proposal(fx.base, Models.sparseTune(fx.base, dir.resolve("t1.safetensors"), 0.01, 1), v0),
                        ProgressListener.NONE).proposal();
                p2 = alice.push(fx.proposal(fx.base, Models.sparseTune(fx.base, dir.resolve("t2.safetensors"), 0.01, 2), v0),
                        ProgressListener.NONE).proposal();
                assertEquals(RemoteProposal.Status.ACCEPTED, p1.status());
                assertEquals(v0, fx.head(), "accepted is not merged under the manual policy");
                RemoteException e = assertThrows(RemoteException.class, () -> alice.review(p1.id(), true, "self-approval"));
                assertEquals(Status.Code.PERMISSION_DENIED, e.code());
            }
            try (RemoteClient maint = fx.client(fx.admin)) {
                RemoteProposal rejected = maint.review(p2.id(), false, "not this one");
                assertEquals(RemoteProposal.Status.REJECTED, rejected.status());
                assertTrue(rejected.review().orElse("").contains("rejected by admin: not this one"), rejected.review().orElse(""));
                assertEquals(v0, fx.head());
                RemoteProposal merged = maint.review(p1.id(), true, "looks good");
                assertEquals(RemoteProposal.Status.MERGED, merged.status());
                assertEquals(fx.head().name(), merged.mergedIn().orElse(""));
                assertNotEquals(v0, fx.head());
                RemoteException again = assertThrows(RemoteException.class, () -> maint.review(p2.id(), true, ""));
                assertEquals(Status.Code.FAILED_PRECONDITION, again.code());
                assertTrue(fx.coord.repository().readCommit(fx.head()).provenance().toString().contains("approved by admin"));
            }
        }
    }

    /** Scores a model by minus the L2 distance of tensor 'a' to a target: closer is better. */
    record DistanceTo(Path target) implements Evaluator {
        @Override
        public double score(TensorSource model) {
            try (SafetensorsFile t = SafetensorsFile.open(target)) {
                TensorInfo a = model.info("a").orElseThrow();
                double sq = 0;
                for (long i = 0; i < a.numel(); i++) {
                    double d = a.dtype().getDouble(model.data("a"), i) - a.dtype().getDouble(t.data("a"), i);
                    sq += d * d;
                }
                return -Math.sqrt(sq);
            }
        }

        @Override
        public String describe() {
            return "distance to target";
        }
    }

    @Test
    void theQualityGateRejectsAProposalThatMakesTheScoreWorse() {
        Path dirTarget = dir.resolve("target.safetensors");
        try (CoordinatorFixture fx = new CoordinatorFixture(dir, PolicyConfig.defaults(), ValidationConfig.defaults(), null)) {
            Models.sparseTune(fx.base, dirTarget, 0.05, 99);
        }
        Path d2 = dir.resolve("gated");
        try (CoordinatorFixture fx = new CoordinatorFixture(mkdir(d2), PolicyConfig.defaults(), ValidationConfig.defaults(),
                new QualityGate(new DistanceTo(dirTarget), 0.0))) {
            ObjectId v0 = fx.head();
            Path away = Models.sparseTune(fx.base, d2.resolve("away.safetensors"), 0.05, 5);
            try (RemoteClient alice = fx.client(fx.alice)) {
                RemoteProposal bad = alice.push(fx.proposal(fx.base, away, v0), ProgressListener.NONE).proposal();
                assertEquals(RemoteProposal.Status.REJECTED, bad.status());
                assertTrue(bad.reasons().get(0).startsWith("score drops distance to target"), bad.reasons().get(0));
                assertEquals(v0, fx.head());
                Path toward = halfway(fx.base, dirTarget, d2.resolve("toward.safetensors"));
                RemoteProposal good = alice.push(fx.proposal(fx.base, toward, v0), ProgressListener.NONE).proposal();
                assertEquals(RemoteProposal.Status.MERGED, good.status(), good.toString());
                assertTrue(good.checks().stream().anyMatch(c -> c.name().equals("quality") && c.passed()));
            }
        }
    }

    private static Path mkdir(Path p) {
        try {
            return java.nio.file.Files.createDirectories(p);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** base + (target - base) / 2 on tensor 'a'. */
    private static Path halfway(Path base, Path target, Path out) {
        try (SafetensorsFile b = SafetensorsFile.open(base); SafetensorsFile t = SafetensorsFile.open(target);
             SafetensorsWriter w = SafetensorsWriter.create(out, b.tensors(), b.metadata())) {
            for (TensorInfo info : b.tensors()) {
                MemorySegment seg = w.segment(info.name());
                MemorySegment.copy(b.data(info.name()), 0, seg, 0, info.byteSize());
                if (info.name().equals("a")) {
                    for (long i = 0; i < info.numel(); i++) {
                        double x = info.dtype().getDouble(b.data("a"), i);
                        info.dtype().setDouble(seg, i, x + (info.dtype().getDouble(t.data("a"), i) - x) / 2);
                    }
                }
            }
            w.finish();
        }
        return out;
    }
}
