package dev.merit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.codec.ValueCoding;
import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.validate.AccuracyEvaluator;
import dev.merit.coordinator.validate.QualityGate;
import dev.merit.remote.LocalConfig;
import dev.merit.remote.RemoteClient;
import dev.merit.remote.RemoteProposal;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.store.ObjectId;
import dev.merit.store.Repository;
import dev.merit.store.ProgressListener;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** merit serve --gate: proposals applied to the head are scored on the held-out split of real data. */
class QualityGateTest {

    @TempDir
    Path dir;

    private static final Pattern SCORES = Pattern.compile(": ([0-9.]+) -> ([0-9.]+)");

    @Test
    void theGateRejectsASignFlippedUpdateAndAcceptsAGoodOneStoringTheScores() throws Exception {
        QualityGate gate = new QualityGate(AccuracyEvaluator.validationSplit(null, 1000), 1.0);
        try (DaemonFixture fx = new DaemonFixture(dir, MergePolicy.MANUAL, 1, gate, "average")) {
            Path clone = fx.contributor("gus");
            DaemonFixture.cli(clone, "train", "--shard", "iid:4:0", "--mask", "none", "--density", "1", "--steps", "80",
                    "--lr", "0.1", "-m", "good");
            try (Repository repo = Repository.open(clone); RemoteClient c = RemoteClient.connect(fx.url, fx.admin)) {
                LocalConfig cfg = new LocalConfig(repo);
                ObjectId base = cfg.tracking("origin", "main").orElseThrow();
                ObjectId good = repo.head().orElseThrow();
                // base - (good - base): the same update with every sign flipped
                Path flippedFile = dir.resolve("flipped.safetensors");
                try (SafetensorsFile b = repo.openVersion(base); SafetensorsFile g = repo.openVersion(good);
                     SafetensorsWriter w = SafetensorsWriter.create(flippedFile, b.tensors(), b.metadata())) {
                    for (TensorInfo t : b.tensors()) {
                        MemorySegment out = w.segment(t.name());
                        for (long i = 0; i < t.numel(); i++) {
                            float x = DType.F32.getFloat(b.data(t.name()), i);
                            DType.F32.setFloat(out, i, 2 * x - DType.F32.getFloat(g.data(t.name()), i));
                        }
                    }
                    w.finish();
                }
                ObjectId flipped;
                try (SafetensorsFile f = SafetensorsFile.open(flippedFile)) {
                    flipped = repo.commit().setSource(f).setMessage("flipped").call().id();
                }
                try (RemoteClient gus = RemoteClient.connect(fx.url, tokenOf(repo))) {
                    RemoteProposal bad = gus.push(CommitProposal.build(repo, cfg, base, flipped, "main", "gus", 100, "flipped",
                            ValueCoding.EXACT), ProgressListener.NONE).proposal();
                    RemoteProposal ok = gus.push(CommitProposal.build(repo, cfg, base, good, "main", "gus", 100, "good",
                            ValueCoding.EXACT), ProgressListener.NONE).proposal();
                    assertEquals(RemoteProposal.Status.REJECTED, bad.status(), bad.toString());
                    assertEquals(RemoteProposal.Status.ACCEPTED, ok.status(), ok.toString());
                }
                // the scores are stored with the proposals: read them back from the coordinator
                RemoteProposal bad = c.proposals("main", java.util.Optional.of(RemoteProposal.Status.REJECTED), 10).get(0);
                RemoteProposal ok = c.proposals("main", java.util.Optional.of(RemoteProposal.Status.ACCEPTED), 10).get(0);
                RemoteProposal.Check badCheck = quality(bad);
                RemoteProposal.Check okCheck = quality(ok);
                assertFalse(badCheck.passed());
                assertTrue(okCheck.passed());
                double[] b = scores(badCheck.detail());
                double[] g = scores(okCheck.detail());
                assertEquals(b[0], g[0], 1e-9, "both scored against the same head");
                assertTrue(b[1] < b[0] - 1, "the flipped update drops accuracy by more than a point: " + badCheck.detail());
                assertTrue(g[1] > g[0], "the good update raises accuracy: " + okCheck.detail());
                assertTrue(bad.reasons().stream().anyMatch(r -> r.contains("score drops")), bad.reasons().toString());
            }
        }
    }

    private static String tokenOf(Repository repo) {
        return new LocalConfig(repo).token("origin").orElseThrow();
    }

    private static RemoteProposal.Check quality(RemoteProposal p) {
        return p.checks().stream().filter(ch -> ch.name().equals("quality")).findFirst()
                .orElseThrow(() -> new AssertionError("no quality check on " + p));
    }

    private static double[] scores(String detail) {
        Matcher m = SCORES.matcher(detail);
        assertTrue(m.find(), detail);
        return new double[] {Double.parseDouble(m.group(1)), Double.parseDouble(m.group(2))};
    }
}
