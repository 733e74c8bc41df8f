package dev.merit.experiment;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.cli.CommitProposal;
import dev.merit.codec.ValueCoding;
import dev.merit.error.InvalidInputException;
import dev.merit.error.MeritException;
import dev.merit.remote.LocalConfig;
import dev.merit.remote.ProposalUpload;
import dev.merit.remote.RemoteBranch;
import dev.merit.remote.RemoteClient;
import dev.merit.remote.RemoteIdentity;
import dev.merit.remote.RemoteProposal;
import dev.merit.store.ObjectId;
import dev.merit.store.ProgressListener;
import dev.merit.store.Repository;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import dev.merit.train.MaskedTrainer;
import dev.merit.train.Masks;
import dev.merit.train.MemoryTensors;
import dev.merit.train.Model;
import dev.merit.train.ModelSpec;
import dev.merit.train.Network;
import dev.merit.train.TrainListener;
import dev.merit.train.TrainResult;
import dev.merit.train.TrainRound;
import dev.merit.train.data.DataDir;
import dev.merit.train.data.Examples;
import dev.merit.train.data.ShardSpec;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Q3: K contributors on Dirichlet shards improve a shared model over R rounds through a real
 * coordinator (batch policy: one merge per round of K proposals). Each contributor pulls the
 * head, runs {@link TrainRound} (FISH mask at 0.5%, value coding, error-feedback residual in its
 * own repository), and pushes the signed proposal over gRPC; the bytes counted are the proposal
 * payloads. Compared with centralized training on the union (same examples seen) and with dense
 * FedAvg (the same local training on every entry, full deltas averaged, bytes as dense float32).
 */
public final class CollaborationExperiment {

    /** How the runner gets a coordinator: {@code merit serve} as a process from the CLI, in-process in tests. */
    @FunctionalInterface
    public interface Coordinators {
        Running start(Path dir, CoordinatorOptions options) throws Exception;
    }

    /** A started coordinator: its URL, its admin token, and how to stop it. */
    public record Running(String url, String adminToken, AutoCloseable stopper) implements AutoCloseable {
        @Override
        public void close() throws Exception {
            stopper.close();
        }
    }

    /**
     * The coordinator's merge settings for one variant.
     *
     * @param strategy    merge strategy (average, fisher, regmean)
     * @param batchSize   proposals per merge (K: one merge per round)
     * @param serverLr    eta in {@code head + eta * D}
     * @param serverMomentum beta of server momentum (0: off)
     * @param averageOver all (an untouched entry counts as 0) or touched
     */
    public record CoordinatorOptions(String strategy, int batchSize, double serverLr, double serverMomentum, String averageOver) {
        /** The {@code merit serve} arguments that give these settings. */
        public List<String> serveArgs() {
            return List.of("--policy", "batch", "--strategy", strategy, "--batch-size", Integer.toString(batchSize),
                    "--batch-seconds", "3600", "--server-lr", Double.toString(serverLr),
                    "--server-momentum", Double.toString(serverMomentum), "--merge-param", "average_over=" + averageOver,
                    "--kafka", "none", "--http-port", "-1", "--pushes-per-minute", "100000", "--staleness-limit", "1000");
        }
    }

    /**
     * One way of running the rounds.
     *
     * @param mask       fish: train only the FISH mask's entries; topk: train every entry and send the top-k of (change + residual) by magnitude
     * @param stepsScale local steps = the standard steps x this (rounds scale by its inverse, so the examples seen stay the same)
     * @param lrScale    local learning rate = the standard rate x this
     * @param serverMomentum the coordinator's server momentum beta (FedAvgM; 0: off)
     * @param proximal   FedProx mu (0: off)
     */
    record Variant(String name, String mask, String strategy, boolean errorFeedback, double stepsScale, double lrScale, double serverLr,
                   double serverMomentum, String averageOver, double proximal, String what) {}

    /** The short variants' fraction of the standard local steps. */
    static final double SHORT = 0.25;

    static final List<Variant> VARIANTS = List.of(
            new Variant("naive", "fish", "average", false, 1, 1, 1, 0, "all", 0,
                    "FISH mask, average over all proposals, no error feedback (the issue's calibration)"),
            new Variant("ef", "fish", "average", true, 1, 1, 1, 0, "all", 0, "FISH mask + error feedback of what mask and coding dropped"),
            new Variant("topk", "topk", "average", false, 1, 1, 1, 0, "all", 0,
                    "every entry trained locally, the top 0.5% of the change by magnitude sent, no error feedback"),
            new Variant("topk-ef", "topk", "average", true, 1, 1, 1, 0, "all", 0,
                    "every entry trained, top 0.5% of change + residual sent, error feedback (Deep Gradient Compression style)"),
            new Variant("ef-touched", "fish", "average", true, 1, 1, 1, 0, "touched", 0, "ef, average over the proposals that touched each entry"),
            new Variant("ef-fisher", "fish", "fisher", true, 1, 1, 1, 0, "all", 0, "ef, Fisher-weighted merge (Fisher pushed with each update)"),
            new Variant("ef-regmean", "fish", "regmean", true, 1, 1, 1, 0, "all", 0, "ef, RegMean merge (F16 Gram matrices pushed with each update)"),
            new Variant("ef-short", "fish", "average", true, SHORT, 1, 1, 0, "all", 0, "ef, 1/4 of the local steps, 4x the rounds"),
            new Variant("ef-lowlr", "fish", "average", true, 1, 0.4, 1, 0, "all", 0, "ef, 0.4x the local learning rate"),
            new Variant("ef-slr4", "fish", "average", true, 1, 1, 4, 0, "all", 0, "ef, server learning rate 4 (= K: the sum of the changes)"),
            new Variant("ef-prox", "fish", "average", true, 1, 1, 1, 0, "all", 0.1, "ef, FedProx mu 0.1"),
            new Variant("topk-ef-slr4", "topk", "average", true, 1, 1, 4, 0, "all", 0, "topk-ef, server learning rate 4"),
            new Variant("topk-ef-short", "topk", "average", true, SHORT, 1, 1, 0, "all", 0, "topk-ef, 1/4 of the local steps, 4x the rounds"),
            new Variant("topk-ef-prox", "topk", "average", true, 1, 1, 1, 0, "all", 0.1, "topk-ef, FedProx mu 0.1"),
            new Variant("ef-m0.9", "fish", "average", true, 1, 1, 1, 0.9, "all", 0, "ef, server momentum 0.9 (FedAvgM)"),
            new Variant("topk-ef-m0.9", "topk", "average", true, 1, 1, 1, 0.9, "all", 0, "topk-ef, server momentum 0.9 (FedAvgM)"));

    /** The variants' names, for help texts. */
    public static final String VARIANT_NAMES = "naive, ef, topk, topk-ef, ef-touched, ef-fisher, ef-regmean, ef-short, ef-lowlr, ef-slr4, "
            + "ef-prox, topk-ef-slr4, topk-ef-short, topk-ef-prox, ef-m0.9, topk-ef-m0.9";

    public static List<String> defaultVariants() {
        return VARIANTS.stream().map(Variant::name).toList();
    }

    /** Sizes of a run. */
    record Setup(String model, String baseShard, int baseSteps, double baseLr, int steps, int batch, double lr, double density,
                 int fisherSamples, int gramSamples, double alpha, int testExamples) {
        static Setup standard() {
            return new Setup("mlp:784-256-128-10", "iid:20:0", 300, 0.1, 100, 64, 0.05, 0.005, 256, 1024, 0.3, 0);
        }

        static Setup quick() {
            return new Setup("mlp:784-32-10", "iid:50:0", 30, 0.1, 8, 32, 0.05, 0.05, 32, 128, 0.3, 500);
        }
    }

    /** What to run. */
    public record Settings(int seeds, int rounds, int contributors, List<String> variants, String values, boolean quick) {}

    private final Lab lab;
    private final Setup setup;
    private final Settings settings;
    private final Coordinators coordinators;
    private final PrintWriter progress;
    private final ValueCoding values;

    private CollaborationExperiment(Lab lab, Setup setup, Settings settings, Coordinators coordinators, PrintWriter progress) {
        this.lab = lab;
        this.setup = setup;
        this.settings = settings;
        this.coordinators = coordinators;
        this.progress = progress;
        try {
            this.values = ValueCoding.parse(settings.values());
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException("--values must be exact, fp16, bf16 or int8, got '" + settings.values() + "'");
        }
    }

    /** Runs Q3 and writes {@code q3.md}, {@code q3.json}, {@code q3-accuracy.svg} and {@code q3-bytes.svg} under {@code out}. */
    public static Experiments.Outcome run(Settings s, Path out, Path data, Coordinators coordinators, PrintWriter progress)
            throws Exception {
        if (s.seeds() < 1 || s.rounds() < 1 || s.contributors() < 2) {
            throw new InvalidInputException("q3 needs --seeds >= 1, --rounds >= 1 and --contributors >= 2; got " + s.seeds() + ", "
                    + s.rounds() + ", " + s.contributors());
        }
        List<String> known = VARIANTS.stream().map(Variant::name).toList();
        for (String v : s.variants()) {
            if (!known.contains(v)) {
                throw new InvalidInputException("--variants: unknown variant '" + v + "' (known: " + String.join(", ", known) + ")");
            }
        }
        Setup setup = s.quick() ? Setup.quick() : Setup.standard();
        Lab lab = new Lab(DataDir.of(data), setup.testExamples());
        long t0 = System.nanoTime();
        CollaborationResults r = new CollaborationExperiment(lab, setup, s, coordinators, progress).runAll(out);
        r.config().put("seconds", Math.round((System.nanoTime() - t0) / 1e9));
        List<Path> files = r.write(out);
        return new Experiments.Outcome(r.markdown(), r.json(), files);
    }

    private CollaborationResults runAll(Path out) throws Exception {
        int k = settings.contributors();
        CollaborationResults r = new CollaborationResults(settings.rounds());
        ObjectNode c = r.config();
        c.put("model", setup.model()).put("contributors", k).put("rounds", settings.rounds()).put("seeds", settings.seeds());
        c.put("shards", "dirichlet:" + setup.alpha() + ":" + k + ":i");
        c.put("base", setup.baseShard() + ", " + setup.baseSteps() + " SGD steps at lr " + setup.baseLr());
        c.put("local_training", setup.steps() + " SGD steps per round, batch " + setup.batch() + ", lr " + setup.lr());
        c.put("density", setup.density()).put("values", settings.values()).put("fisher_samples", setup.fisherSamples());
        c.put("test_examples", lab.test.size());
        ModelSpec spec = ModelSpec.parse(setup.model());
        Path work = out.resolve("q3-work");
        for (int seed = 0; seed < settings.seeds(); seed++) {
            long t0 = System.nanoTime();
            List<Examples> shards = new ArrayList<>();
            for (int i = 0; i < k; i++) {
                shards.add(ShardSpec.parse(String.format(Locale.ROOT, "dirichlet:%s:%d:%d", setup.alpha(), k, i)).select(lab.train, seed));
            }
            Examples baseData = ShardSpec.parse(setup.baseShard()).select(lab.train, seed);
            try (MemoryTensors init = spec.initialize(seed);
                 MemoryTensors base = lab.train(spec, init, baseData, null, MaskedTrainer.Optimizer.SGD, setup.baseLr(), setup.baseSteps(),
                         setup.batch(), seed, "base")) {
                double baseAcc = lab.accuracy(spec, base);
                r.base(baseAcc);
                say("seed %d: base %.2f%%, shards of %s examples", seed, 100 * baseAcc,
                        shards.stream().map(e -> Integer.toString(e.size())).toList());
                r.add("centralized", centralized(spec, base, shards, seed), new long[settings.rounds()], 1, "centralized training on the union");
                r.add("fedavg-dense", denseFedAvg(spec, base, shards, seed, r, 1), null, 1,
                        "dense FedAvg: the same local training on every entry, full deltas averaged (bytes: dense float32 deltas)");
                if (settings.variants().stream().anyMatch(n -> n.endsWith("-short"))) {
                    r.add("fedavg-dense-short", denseFedAvg(spec, base, shards, seed, r, SHORT), null, (int) Math.round(1 / SHORT),
                            "dense FedAvg with the short variants' schedule: 1/4 of the local steps, 4x the rounds");
                }
                for (Variant v : VARIANTS) {
                    if (!settings.variants().contains(v.name())) {
                        continue;
                    }
                    long v0 = System.nanoTime();
                    Path dir = work.resolve("seed" + seed).resolve(v.name());
                    Run run = sparse(spec, base, shards, seed, v, dir);
                    r.add(v.name(), run.accuracy(), run.bytes(), (int) Math.round(1 / v.stepsScale()), v.what());
                    say("  %s: final %.2f%%, %s bytes pushed per round, %.0f s", v.name(), 100 * run.accuracy()[run.accuracy().length - 1],
                            run.bytes()[0], (System.nanoTime() - v0) / 1e9);
                }
            }
            say("seed %d done in %.0f s", seed, (System.nanoTime() - t0) / 1e9);
        }
        deleteTree(work);
        return r;
    }

    /** Accuracy after each round-equivalent, and the bytes pushed in each round (per R of the settings). */
    record Run(double[] accuracy, long[] bytes) {}

    /** The base trained on the union, evaluated after every K x steps steps: the same examples seen as a round. */
    private double[] centralized(ModelSpec spec, MemoryTensors base, List<Examples> shards, long seed) {
        double[] acc = new double[settings.rounds()];
        Examples union = Lab.union(shards);
        try (Model m = new Model(Network.of(base, Optional.of(spec)), base, lab.device)) {
            MaskedTrainer t = new MaskedTrainer(m, null, MaskedTrainer.Optimizer.SGD, setup.lr());
            for (int round = 0; round < acc.length; round++) {
                t.train(union, shards.size() * setup.steps(), setup.batch(), seed * 7919 + round, TrainListener.NONE);
                acc[round] = dev.merit.train.Evaluator.evaluate(m, lab.test).accuracy();
            }
        }
        say("  centralized: final %.2f%%", 100 * acc[acc.length - 1]);
        return acc;
    }

    /** Each round every contributor trains every entry from the global model; the deltas are averaged with the coordinator's weights. */
    private double[] denseFedAvg(ModelSpec spec, MemoryTensors base, List<Examples> shards, long seed, CollaborationResults r,
                                 double stepsScale) {
        int steps = Math.max(1, (int) Math.round(setup.steps() * stepsScale));
        int per = (int) Math.round(1 / stepsScale);
        double[] acc = new double[settings.rounds()];
        double[] w = weights(shards);
        MemoryTensors global = MemoryTensors.copyOf(base);
        long params = 0;
        try {
            for (int round = 0; round < acc.length * per; round++) {
                MemoryTensors next = MemoryTensors.copyOf(global);
                for (int i = 0; i < shards.size(); i++) {
                    try (MemoryTensors local = lab.train(spec, global, shards.get(i), null, MaskedTrainer.Optimizer.SGD, setup.lr(),
                            steps, setup.batch(), seed * 1000 + round * 31L + i, "fedavg local")) {
                        params = 0;
                        for (TensorInfo t : global.tensors()) {
                            MemorySegment g = global.data(t.name());
                            MemorySegment l = local.data(t.name());
                            MemorySegment n = next.data(t.name());
                            long count = g.byteSize() / 4;
                            params += count;
                            for (long j = 0; j < count; j++) {
                                float d = l.getAtIndex(F32, j) - g.getAtIndex(F32, j);
                                n.setAtIndex(F32, j, (float) (n.getAtIndex(F32, j) + w[i] * d));
                            }
                        }
                    }
                }
                global.close();
                global = next;
                if ((round + 1) % per == 0) {
                    acc[(round + 1) / per - 1] = lab.accuracy(spec, global);
                }
            }
        } finally {
            global.close();
        }
        r.denseBytesPerRound(4 * params * shards.size());
        say("  fedavg-dense%s: final %.2f%%", per == 1 ? "" : "-short", 100 * acc[acc.length - 1]);
        return acc;
    }

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Merge weights as the coordinator gives them: example counts (its share cap of 0.5 applied when a shard passes it). */
    static double[] weights(List<Examples> shards) {
        double[] w = shards.stream().mapToDouble(Examples::size).toArray();
        double total = java.util.Arrays.stream(w).sum();
        for (int i = 0; i < w.length; i++) {
            w[i] /= total;
        }
        return w;
    }

    /** One contributor's clone. */
    private record Contributor(String name, Repository repo, LocalConfig cfg, RemoteClient client, Examples shard) implements AutoCloseable {
        @Override
        public void close() {
            client.close();
            repo.close();
        }
    }

    private Run sparse(ModelSpec spec, MemoryTensors base, List<Examples> shards, long seed, Variant v, Path dir) throws Exception {
        int k = shards.size();
        int steps = Math.max(1, (int) Math.round(setup.steps() * v.stepsScale()));
        int rounds = (int) Math.round(settings.rounds() / v.stepsScale());
        int per = rounds / settings.rounds(); // rounds per reported round-equivalent
        double lr = setup.lr() * v.lrScale();
        Files.createDirectories(dir);
        CoordinatorOptions opts = new CoordinatorOptions(v.strategy(), k, v.serverLr(), v.serverMomentum(), v.averageOver());
        double[] acc = new double[settings.rounds()];
        long[] bytes = new long[settings.rounds()];
        try (Running coord = coordinators.start(dir, opts);
             RemoteClient admin = RemoteClient.connect(coord.url(), coord.adminToken())) {
            try (Repository maintainer = Repository.init(dir.resolve("maintainer"))) {
                ObjectId first = maintainer.commit().setSource(base).setMessage("Q3 base (seed " + seed + ")").call().id();
                admin.publish(maintainer, "main", first, ProgressListener.NONE);
            }
            List<Contributor> cs = new ArrayList<>();
            try {
                for (int i = 0; i < k; i++) {
                    String name = "contributor-" + i;
                    String token = admin.createToken(name, RemoteIdentity.Role.CONTRIBUTOR);
                    Repository repo = Repository.init(dir.resolve(name));
                    LocalConfig cfg = new LocalConfig(repo);
                    cfg.addRemote("origin", coord.url(), token);
                    RemoteClient client = RemoteClient.connect(coord.url(), token);
                    client.registerKey(cfg.signingKey().getPublic().getEncoded());
                    cs.add(new Contributor(name, repo, cfg, client, shards.get(i)));
                }
                long version = admin.branch("main").orElseThrow().number();
                for (int round = 1; round <= rounds; round++) {
                    long sent = 0;
                    for (int i = 0; i < k; i++) {
                        sent += contribute(cs.get(i), spec, v, steps, lr, seed * 100_000 + round * 31L + i, round);
                    }
                    version = awaitMerge(admin, version, round);
                    if (round % per == 0) {
                        Contributor c0 = cs.getFirst();
                        RemoteBranch b = c0.client().fetch(c0.repo(), "main", c0.cfg().haves(), ProgressListener.NONE);
                        try (TensorSource merged = c0.repo().openVersion(b.head())) {
                            acc[round / per - 1] = lab.accuracy(spec, merged);
                        }
                    }
                    bytes[(round - 1) / per] += sent;
                }
            } finally {
                cs.forEach(Contributor::close);
            }
        }
        deleteTree(dir);
        return new Run(acc, bytes);
    }

    /** One contributor's round: pull the head, train, push the signed proposal; returns its payload bytes. */
    private long contribute(Contributor c, ModelSpec spec, Variant v, int steps, double lr, long seed, int round) {
        RemoteBranch rb = c.client().fetch(c.repo(), "main", c.cfg().haves(), ProgressListener.NONE);
        ObjectId head = rb.head();
        c.repo().updateBranch("main", Optional.ofNullable(c.repo().branches().get("main")), head, "pull origin main");
        boolean regmean = v.strategy().equals("regmean");
        TrainResult t = TrainRound.on(c.repo()).setData(c.shard()).setModel(spec).setSteps(steps).setBatch(setup.batch())
                .setLearningRate(lr).setDensity(setup.density()).setMask(v.mask().equals("fish") ? Masks.Kind.FISH : Masks.Kind.NONE).setFisherSamples(setup.fisherSamples())
                .setValues(values).setErrorFeedback(v.errorFeedback()).setProximal(v.proximal()).setRegmean(regmean)
                .setGramSamples(setup.gramSamples()).setGramDtype(dev.merit.tensor.DType.F16).setSeed(seed)
                .setProvenance(JsonNodeFactory.instance.objectNode().put("q3_round", round))
                .setMessage("Q3 " + v.name() + " round " + round + " on version " + rb.number())
                .call();
        ProposalUpload u = proposal(c, head, t.commit(), v.strategy().equals("fisher"), regmean);
        RemoteProposal p = c.client().push(u, ProgressListener.NONE).proposal();
        if (p.status() == RemoteProposal.Status.REJECTED) {
            throw new MeritException(c.name() + "'s proposal in round " + round + " was rejected: " + String.join("; ", p.reasons()));
        }
        return u.payloadBytes();
    }

    /** The signed proposal from {@code base} to {@code mine}; the Fisher and Gram matrices only when the merge uses them. */
    private ProposalUpload proposal(Contributor c, ObjectId base, ObjectId mine, boolean withFisher, boolean withGram) {
        return CommitProposal.build(c.repo(), c.cfg().privateKey(), base, mine, "main", c.name(), c.shard().size(), "Q3 update",
                values, withFisher, withGram);
    }

    /** Waits for the batch merge of the round's K proposals: the branch's version number moves past {@code version}. */
    private static long awaitMerge(RemoteClient admin, long version, int round) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
        while (System.nanoTime() < until) {
            long now = admin.branch("main").orElseThrow().number();
            if (now > version) {
                return now;
            }
            Thread.sleep(50);
        }
        throw new MeritException("the coordinator did not merge round " + round + "'s proposals within 5 minutes");
    }

    private void say(String format, Object... args) {
        progress.println(String.format(Locale.ROOT, format, args));
        progress.flush();
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + dir + ": " + e.getMessage(), e);
        }
    }

    static Map<String, String> describe() {
        Map<String, String> m = new LinkedHashMap<>();
        VARIANTS.forEach(v -> m.put(v.name(), v.what()));
        return m;
    }
}
