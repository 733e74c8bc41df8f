package dev.merit.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import dev.merit.store.Repository;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import dev.merit.train.data.Examples;
import dev.merit.train.data.ShardSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainRoundTest {

    @TempDir
    Path dir;

    @Test
    void aHalfPercentFishUpdateImprovesAccuracyOnTheShardAndChangesOnlyMaskedEntries() {
        Examples shard = ShardSpec.parse("dirichlet:1.0:4:0").select(TrainData.train(), 0);
        try (Repository repo = Repository.init(dir)) {
            try (MemoryTensors init = ModelSpec.parse("mlp:784-128-64-10").initialize(1)) {
                repo.commit().setSource(init).setMessage("init").call();
            }
            var head = repo.head().orElseThrow();
            double before;
            try (TensorSource s = repo.openVersion(head)) {
                before = Evaluator.evaluate(s, Optional.empty(), shard, Device.cpu()).accuracy();
            }
            TrainResult r = TrainRound.on(repo).setData(shard).setSteps(300).setBatch(64).setLearningRate(0.2)
                    .setDensity(0.005).setRegmean(true).setMessage("round 1").call();
            double after;
            long changed = 0;
            try (TensorSource base = repo.openVersion(head); TensorSource next = repo.openVersion(r.commit())) {
                after = Evaluator.evaluate(next, Optional.empty(), shard, Device.cpu()).accuracy();
                for (TensorInfo t : base.tensors()) {
                    for (long i = 0; i < t.numel(); i++) {
                        if (base.data(t.name()).getAtIndex(MemoryTensors.F32, i) != next.data(t.name()).getAtIndex(MemoryTensors.F32, i)) {
                            changed++;
                        }
                    }
                }
                assertEquals("mlp:784-128-64-10", next.metadata().get(ModelSpec.METADATA_KEY));
            }
            long k = Masks.k(0.005, r.parameters());
            assertTrue(changed <= k && changed > k / 2, "changed " + changed + " entries, mask has " + k);
            assertEquals(changed, r.changedEntries());
            assertTrue(after > before + 0.05, "accuracy on the shard went from " + before + " to " + after);
            assertTrue(r.deltaBytes() < r.denseBytes() / 20, "update " + r.deltaBytes() + " B vs dense " + r.denseBytes());

            var commit = repo.readCommit(r.commit());
            assertTrue(commit.fisher().isPresent());
            try (TensorSource gram = repo.openGram(r.commit()).orElseThrow()) {
                assertEquals(Grams.PACKED_UPPER, gram.metadata().get(Grams.FORMAT_KEY));
                assertEquals(3, gram.tensors().size());
                TensorInfo g0 = gram.info("0.weight").orElseThrow();
                assertEquals(DType.F32, g0.dtype());
                assertEquals(784L * 785 / 2, g0.numel());
            }
            assertTrue(r.gramBytes() > 0);
            assertTrue(Files.isRegularFile(dir.resolve(".merit").resolve(TrainRound.RESIDUAL)));
        }
    }
}
