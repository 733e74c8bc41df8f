package dev.merit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.coordinator.Coordinator;
import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.merge.GramMatrix;
import dev.merit.merge.Strategy;
import dev.merit.remote.Models;
import dev.merit.remote.ProposalBuilder;
import dev.merit.remote.ProposalUpload;
import dev.merit.remote.RemoteClient;
import dev.merit.remote.RemoteProposal;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.store.ObjectId;
import dev.merit.store.ProgressListener;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.testing.TestModels;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * RegMean through the coordinator: contributors commit changes with their Gram matrices and push
 * them with merit push; a coordinator serving regmean refuses proposals without Gram matrices or
 * with malformed ones (naming the matrix), and its batch merge of the accepted ones equals an
 * independent numpy computation from the same models and Gram matrices.
 */
class RegMeanPushTest {

    /** The numpy oracle shared with the merge engine's tests (run from the module's directory). */
    static final Path REFERENCE = Path.of("../merge-engine/src/test/resources/dev/merit/merge/regmean_reference.py");

    @TempDir
    Path dir;

    private static CliRunner.Result ok(CliRunner m, String... args) {
        CliRunner.Result r = m.run(args);
        assertEquals(0, r.exitCode(), () -> "merit " + String.join(" ", args) + "\n" + r);
        return r;
    }

    /** Gram matrices G = X^T X / N of random inputs for fc1 (16 inputs) and fc2 (24), packed upper, F32. */
    private static Path grams(Path dst, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int n = 64;
        List<TensorInfo> layout = List.of(TensorInfo.of("fc1.weight", DType.F32, GramMatrix.packedSize(16)),
                TensorInfo.of("fc2.weight", DType.F32, GramMatrix.packedSize(24)));
        try (SafetensorsWriter w = SafetensorsWriter.create(dst, layout,
                Map.of(GramMatrix.FORMAT_KEY, GramMatrix.PACKED_UPPER, GramMatrix.EXAMPLES_KEY, Integer.toString(n)))) {
            for (TensorInfo t : layout) {
                int in = t.name().equals("fc1.weight") ? 16 : 24;
                double[][] x = new double[n][in];
                for (double[] row : x) {
                    for (int k = 0; k < in; k++) {
                        row[k] = rnd.nextGaussian() + (k % 3 == 0 ? 0.5 : 0); // correlated features, as real inputs are
                    }
                }
                MemorySegment out = w.segment(t.name());
                long q = 0;
                for (int r = 0; r < in; r++) {
                    for (int c = r; c < in; c++) {
                        double s = 0;
                        for (double[] row : x) {
                            s += row[r] * row[c];
                        }
                        DType.F32.setDouble(out, q++, s / n);
                    }
                }
            }
            w.finish();
        }
        return dst;
    }

    private static ObjectId awaitNewHead(Coordinator coord, ObjectId old) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            ObjectId h = coord.versions().requireHead("main");
            if (!h.equals(old)) {
                return h;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no merge within 60 s");
    }

    private static RemoteProposal pushCrafted(String url, String token, java.security.PrivateKey key, Path base, Path tuned, ObjectId v0,
                                              List<ProposalBuilder.GramPart> grams) {
        try (SafetensorsFile b = SafetensorsFile.open(base); SafetensorsFile t = SafetensorsFile.open(tuned);
             RemoteClient c = RemoteClient.connect(url, token)) {
            ProposalUpload u = ProposalBuilder.sign(new ProposalBuilder(b, t).parts(), grams, 64, "main", v0.name(), "alice", 0,
                    "crafted", key);
            return c.push(u, ProgressListener.NONE, 1).proposal();
        }
    }

    private static byte[] f32(int count, float value) {
        byte[] b = new byte[count * 4];
        MemorySegment s = MemorySegment.ofArray(b);
        for (int i = 0; i < count; i++) {
            DType.F32.setDouble(s, i, value);
        }
        return b;
    }

    @Test
    void pushedGramsAreValidatedStoredAndUsedByTheRegmeanBatchMerge() throws Exception {
        Path base = TestModels.builder().seed(9).tensor("fc1.weight", DType.F32, 24, 16).tensor("fc1.bias", DType.F32, 24)
                .tensor("fc2.weight", DType.F32, 8, 24).tensor("fc2.bias", DType.F32, 8).write(dir.resolve("base.safetensors"));
        PolicyConfig policy = PolicyConfig.defaults().withPolicy(MergePolicy.BATCH).withStrategy(Strategy.REGMEAN)
                .withBatch(2, Duration.ofMinutes(10));
        try (Coordinator coord = Coordinator.builder(dir.resolve("server")).listen("127.0.0.1", 0).policy(policy).start()) {
            String url = "merit://127.0.0.1:" + coord.port();
            String admin = coord.initialAdminToken().orElseThrow();
            CliRunner maint = new CliRunner(Files.createDirectories(dir.resolve("maint")));
            ok(maint, "init", "--from", base.toString(), "-m", "base");
            ok(maint, "remote", "add", "origin", url, "--token", admin);
            ok(maint, "push", "origin", "main");
            ObjectId v0 = coord.versions().requireHead("main");

            String[] names = {"alice", "bob"};
            List<Path> tuned = new ArrayList<>();
            List<Path> grams = new ArrayList<>();
            List<CliRunner> clones = new ArrayList<>();
            List<String> tokens = new ArrayList<>();
            for (int i = 0; i < names.length; i++) {
                String token = ok(maint, "token", "create", "--name", names[i], "--role", "contributor").out().trim();
                tokens.add(token);
                ok(new CliRunner(dir), "clone", url, names[i], "--token", token);
                CliRunner in = new CliRunner(dir.resolve(names[i]));
                ok(in, "key", "register");
                clones.add(in);
                // Every entry changes, so the fallback (average) of the biases is the same over all inputs or the touching ones.
                tuned.add(Models.sparseTune(base, dir.resolve(names[i] + ".safetensors"), 1.0, 40 + i));
                grams.add(grams(dir.resolve(names[i] + ".gram.safetensors"), 50 + i));
            }

            // Without Gram matrices the regmean coordinator refuses the proposal, naming a layer.
            CliRunner alice = clones.get(0);
            ok(alice, "commit", Models.sparseTune(base, dir.resolve("plain.safetensors"), 1.0, 99).toString(), "-m", "no Gram");
            CliRunner.Result bare = alice.run("push");
            assertEquals(5, bare.exitCode(), bare::toString);
            assertTrue(bare.out().contains("'fc1.weight' has none"), bare.out());

            // Malformed Gram matrices are refused with the matrix named; nothing is stored or merged.
            String aliceToken = tokens.get(0);
            java.security.PrivateKey key;
            try (dev.merit.store.Repository r = dev.merit.store.Repository.open(dir.resolve("alice"))) {
                key = new dev.merit.remote.LocalConfig(r).privateKey();
            }
            TensorInfo g1 = TensorInfo.of("fc1.weight", DType.F32, GramMatrix.packedSize(16));
            TensorInfo g2 = TensorInfo.of("fc2.weight", DType.F32, GramMatrix.packedSize(24));
            byte[] nan = f32((int) GramMatrix.packedSize(24), 0.5f);
            DType.F32.setDouble(MemorySegment.ofArray(nan), 7, Double.NaN);
            RemoteProposal r1 = pushCrafted(url, aliceToken, key, base, tuned.get(0), v0, List.of(
                    new ProposalBuilder.GramPart(g1, f32((int) GramMatrix.packedSize(16), 1f)), new ProposalBuilder.GramPart(g2, nan)));
            assertEquals(RemoteProposal.Status.REJECTED, r1.status(), r1.toString());
            assertTrue(r1.reasons().get(0).contains("Gram matrix 'fc2.weight': value NaN at index 7"), r1.reasons().toString());
            TensorInfo wrong = TensorInfo.of("fc1.weight", DType.F32, 15, 15);
            RemoteProposal r2 = pushCrafted(url, aliceToken, key, base, tuned.get(0), v0, List.of(
                    new ProposalBuilder.GramPart(wrong, f32(225, 1f)), new ProposalBuilder.GramPart(g2, f32((int) GramMatrix.packedSize(24), 1f))));
            assertEquals(RemoteProposal.Status.REJECTED, r2.status(), r2.toString());
            assertTrue(r2.reasons().get(0).contains("Gram matrix 'fc1.weight' has shape [15, 15]; the layer has 16 inputs"),
                    r2.reasons().toString());
            TensorInfo bias = TensorInfo.of("fc1.bias", DType.F32, 1);
            RemoteProposal r3 = pushCrafted(url, aliceToken, key, base, tuned.get(0), v0, List.of(new ProposalBuilder.GramPart(bias, f32(1, 1f))));
            assertTrue(r3.reasons().get(0).contains("Gram matrix 'fc1.bias': base tensor is F32 [24]"), r3.reasons().toString());
            // The signature covers the Gram matrices: one changed value after signing fails the digest.
            try (SafetensorsFile b = SafetensorsFile.open(base); SafetensorsFile t = SafetensorsFile.open(tuned.get(0));
                 RemoteClient c = RemoteClient.connect(url, aliceToken)) {
                ProposalUpload signed = ProposalBuilder.sign(new ProposalBuilder(b, t).parts(), List.of(
                        new ProposalBuilder.GramPart(g1, f32((int) GramMatrix.packedSize(16), 1f)),
                        new ProposalBuilder.GramPart(g2, f32((int) GramMatrix.packedSize(24), 1f))), 64, "main", v0.name(), "alice", 0,
                        "tampered", key);
                List<byte[]> sections = new ArrayList<>(signed.sections());
                byte[] last = sections.getLast().clone();
                DType.F32.setDouble(MemorySegment.ofArray(last), 3, 2.0);
                sections.set(sections.size() - 1, last);
                RemoteProposal r4 = c.push(new ProposalUpload(signed.spec(), sections), ProgressListener.NONE, 1).proposal();
                assertEquals(RemoteProposal.Status.REJECTED, r4.status(), r4.toString());
                assertTrue(r4.reasons().get(0).contains("the payload hashes to"), r4.reasons().toString());
            }
            assertEquals(v0, coord.versions().requireHead("main"));

            // With their Gram matrices both pushes are accepted; the second completes the batch.
            for (int i = 0; i < names.length; i++) {
                CliRunner in = clones.get(i);
                ok(in, "commit", tuned.get(i).toString(), "--gram", grams.get(i).toString(), "-m", "tune by " + names[i]);
                CliRunner.Result push = ok(in, "push");
                assertTrue(push.out().contains(": accepted"), push.out());
                // fc1: 136 packed values, fc2: 300, as float32.
                assertTrue(push.out().contains("Gram matrices " + Format.bytes((136 + 300) * 4L) + " (2 layers)"), push.out());
            }
            ObjectId head = awaitNewHead(coord, v0);
            assertEquals("regmean", coord.repository().readCommit(head).provenance().path("merge").path("strategy").asText());
            Path merged = dir.resolve("merged.safetensors");
            coord.repository().checkout(head, merged, ProgressListener.NONE);

            // The numpy oracle from the same files: equal weights (no example counts), alpha 0.9.
            Path expected = dir.resolve("expected.safetensors");
            Path spec = dir.resolve("regmean.json");
            Files.writeString(spec, "{\"models\": [\"" + tuned.get(0) + "\", \"" + tuned.get(1) + "\"], \"grams\": [\"" + grams.get(0)
                    + "\", \"" + grams.get(1) + "\"], \"weights\": [1, 1], \"alpha\": 0.9, \"out\": \"" + expected + "\"}");
            assertTrue(Files.isRegularFile(REFERENCE), "numpy oracle missing: " + REFERENCE.toAbsolutePath());
            Process p = new ProcessBuilder("/usr/bin/python3", REFERENCE.toString(), spec.toString()).redirectErrorStream(true).start();
            String pyOut = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "python3 timed out");
            assertEquals(0, p.exitValue(), "python3 with numpy (Debian python3-numpy) failed: " + pyOut);
            try (SafetensorsFile want = SafetensorsFile.open(expected); SafetensorsFile got = SafetensorsFile.open(merged);
                 SafetensorsFile b = SafetensorsFile.open(base)) {
                for (TensorInfo t : b.tensors()) {
                    double maxMove = 0;
                    for (long i = 0; i < t.numel(); i++) {
                        double w = DType.F32.getDouble(want.data(t.name()), i);
                        double g = DType.F32.getDouble(got.data(t.name()), i);
                        assertEquals(w, g, 1e-4 * Math.max(1, Math.abs(w)), t.name() + "[" + i + "]");
                        maxMove = Math.max(maxMove, Math.abs(g - DType.F32.getDouble(b.data(t.name()), i)));
                    }
                    assertTrue(maxMove > 1e-3, t.name() + " did not change");
                }
            }
        }
    }
}
