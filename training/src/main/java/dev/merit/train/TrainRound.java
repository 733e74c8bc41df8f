package dev.merit.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.codec.ValueCoding;
import dev.merit.error.InvalidInputException;
import dev.merit.safetensors.Safetensors;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.store.CommitResult;
import dev.merit.store.ObjectId;
import dev.merit.store.Repository;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import dev.merit.train.data.Examples;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * One contributor round: from the branch head, choose the mask (FISH by default: the diagonal
 * Fisher at the head over {@code fisherSamples} examples, global top-k at {@code density}),
 * train only the masked entries, add the error-feedback residual, keep the masked part of the
 * update, compute the Fisher at the trained weights on the changed entries (and the RegMean Gram
 * matrices when asked), commit, and keep what value coding and the mask left out as the next
 * residual ({@code .merit/train/residual.safetensors}).
 *
 * <pre>{@code
 * TrainResult r = TrainRound.on(repo).setData(shard).setSteps(200).setDensity(0.005)
 *         .setMessage("round 3").call();
 * }</pre>
 *
 * One round runs at a time per process (DJL's gradient recording is process-wide).
 */
public final class TrainRound {

    /** Where the error-feedback residual lives, under the repository's {@code .merit} directory. */
    public static final String RESIDUAL = "train/residual.safetensors";

    private final Repository repo;
    private Examples data;
    private Optional<ModelSpec> spec = Optional.empty();
    private int steps = 100;
    private int batch = 64;
    private double lr = 0.05;
    private MaskedTrainer.Optimizer optimizer = MaskedTrainer.Optimizer.SGD;
    private double density = 0.01;
    private Masks.Kind mask = Masks.Kind.FISH;
    private int fisherSamples = 256;
    private Fisher.Kind fisherKind = Fisher.Kind.EMPIRICAL;
    private boolean regmean;
    private int gramSamples = 2048;
    private DType gramDtype = DType.F32;
    private ValueCoding values = ValueCoding.EXACT;
    private long seed = 1;
    private Device device = Device.cpu();
    private String message;
    private String author;
    private boolean errorFeedback = true;
    private double proximal;
    private ObjectNode provenance = JsonNodeFactory.instance.objectNode();
    private TrainListener listener = TrainListener.NONE;

    private TrainRound(Repository repo) {
        this.repo = repo;
    }

    public static TrainRound on(Repository repo) {
        return new TrainRound(Objects.requireNonNull(repo));
    }

    /** The contributor's training examples (a shard; the validation split is never in one). */
    public TrainRound setData(Examples data) {
        this.data = data;
        return this;
    }

    /** Overrides the model spec recorded in the head's metadata. */
    public TrainRound setModel(ModelSpec spec) {
        this.spec = Optional.ofNullable(spec);
        return this;
    }

    public TrainRound setSteps(int steps) {
        if (steps < 1) {
            throw new InvalidInputException("--steps must be >= 1, got " + steps);
        }
        this.steps = steps;
        return this;
    }

    public TrainRound setBatch(int batch) {
        if (batch < 1) {
            throw new InvalidInputException("--batch must be >= 1, got " + batch);
        }
        this.batch = batch;
        return this;
    }

    public TrainRound setLearningRate(double lr) {
        if (!(lr > 0) || Double.isInfinite(lr)) {
            throw new InvalidInputException("--lr must be > 0, got " + lr);
        }
        this.lr = lr;
        return this;
    }

    public TrainRound setOptimizer(MaskedTrainer.Optimizer optimizer) {
        this.optimizer = optimizer;
        return this;
    }

    public TrainRound setDensity(double density) {
        Masks.k(density, 1);
        this.density = density;
        return this;
    }

    public TrainRound setMask(Masks.Kind mask) {
        this.mask = mask;
        return this;
    }

    public TrainRound setFisherSamples(int n) {
        if (n < 1) {
            throw new InvalidInputException("--fisher-samples must be >= 1, got " + n);
        }
        this.fisherSamples = n;
        return this;
    }

    public TrainRound setFisher(Fisher.Kind kind) {
        this.fisherKind = kind;
        return this;
    }

    /** Also attach each linear layer's input Gram matrix (over up to {@code gramSamples} examples). */
    public TrainRound setRegmean(boolean regmean) {
        this.regmean = regmean;
        return this;
    }

    public TrainRound setGramSamples(int n) {
        this.gramSamples = n;
        return this;
    }

    /** F32 (default) or F16 Gram matrices. */
    public TrainRound setGramDtype(DType dtype) {
        if (dtype != DType.F32 && dtype != DType.F16) {
            throw new InvalidInputException("Gram matrices are stored as F32 or F16, not " + dtype);
        }
        this.gramDtype = dtype;
        return this;
    }

    public TrainRound setValues(ValueCoding values) {
        this.values = values;
        return this;
    }

    public TrainRound setSeed(long seed) {
        this.seed = seed;
        return this;
    }

    public TrainRound setDevice(Device device) {
        this.device = device;
        return this;
    }

    public TrainRound setMessage(String message) {
        this.message = message;
        return this;
    }

    public TrainRound setAuthor(String author) {
        this.author = author;
        return this;
    }

    /** Whether to add and keep the error-feedback residual (default on). */
    public TrainRound setErrorFeedback(boolean on) {
        this.errorFeedback = on;
        return this;
    }

    /** FedProx's proximal coefficient mu: local training is pulled toward the version it started from (0, the default: off). */
    public TrainRound setProximal(double mu) {
        if (!(mu >= 0) || Double.isInfinite(mu)) {
            throw new InvalidInputException("--proximal must be a finite number >= 0, got " + mu);
        }
        this.proximal = mu;
        return this;
    }

    /** Extra provenance (e.g. the daemon's round number), merged into the commit's. */
    public TrainRound setProvenance(ObjectNode extra) {
        this.provenance = extra.deepCopy();
        return this;
    }

    public TrainRound setListener(TrainListener listener) {
        this.listener = Objects.requireNonNull(listener);
        return this;
    }

    public TrainResult call() {
        if (data == null) {
            throw new IllegalStateException("setData first");
        }
        if (message == null || message.isBlank()) {
            throw new InvalidInputException("a commit message is required (-m)");
        }
        ObjectId head = repo.head().orElseThrow(() -> new InvalidInputException(
                "the branch has no version to train from yet: run merit init --model SPEC first"));
        try (TensorSource base = repo.openVersion(head)) {
            Network net = Network.of(base, spec);
            int inputs = net.linearLayers().get(0).in();
            if (net instanceof Network.MlpNet && inputs != data.images().pixels()) {
                throw new InvalidInputException(net.spec().text() + " takes " + inputs + " inputs, the images have "
                        + data.images().pixels() + " pixels");
            }
            try (Model model = new Model(net, base, device);
                 NDManager work = model.manager().newSubManager()) {
                return run(head, base, model, work);
            }
        }
    }

    private TrainResult run(ObjectId head, TensorSource base, Model model, NDManager work) {
        long n = model.parameterCount();
        long k = Masks.k(density, n);
        long t0 = System.nanoTime();
        Masks.Mask m = switch (mask) {
            case FISH -> {
                listener.phase("fisher");
                Map<String, NDArray> f = Fisher.diagonal(model, data.sample(fisherSamples, seed), Fisher.Kind.EMPIRICAL, work);
                listener.phase("mask");
                yield Masks.topK(f, k, work);
            }
            case RANDOM -> Masks.random(model.params(), k, seed, work);
            case MAGNITUDE -> Masks.magnitude(model.params(), k, work);
            case NONE -> null;
        };
        double maskSeconds = (System.nanoTime() - t0) / 1e9;

        listener.phase("train");
        Map<String, NDArray> start = new LinkedHashMap<>();
        model.params().forEach((name, p) -> start.put(name, p.duplicate()));
        start.values().forEach(a -> a.attach(work));
        MaskedTrainer.Stats stats = new MaskedTrainer(model, m, optimizer, lr).withProximal(proximal).train(data, steps, batch, seed, listener);
        if (!Double.isFinite(stats.finalLoss())) {
            throw new InvalidInputException("training diverged (loss " + stats.finalLoss() + "); try a smaller --lr");
        }

        listener.phase("statistics");
        long s0 = System.nanoTime();
        Path residualFile = repo.workDir().resolve(Repository.DIR_NAME).resolve(RESIDUAL);
        Map<String, NDArray> residual = errorFeedback ? loadResidual(residualFile, model, work) : Map.of();
        // The update: what training changed plus what earlier rounds left out; the mask keeps k entries of it.
        Map<String, NDArray> update = new LinkedHashMap<>();
        model.params().forEach((name, p) -> {
            NDArray u = p.sub(start.get(name));
            NDArray r = residual.get(name);
            if (r != null) {
                u.addi(r);
            }
            u.attach(work);
            update.put(name, u);
        });
        Masks.Mask keep = m != null ? m : Masks.topK(absOf(update, work), k, work);
        Map<String, NDArray> changed = new LinkedHashMap<>();
        update.forEach((name, u) -> {
            NDArray c = u.mul(keep.of(name));
            c.attach(work);
            changed.put(name, c);
        });
        // The Fisher for merging is taken at the trained weights and kept where the commit changes something.
        Map<String, NDArray> fisher = Fisher.diagonal(model, data.sample(fisherSamples, seed + 1), fisherKind, work);
        fisher.replaceAll((name, f) -> f.muli(changed.get(name).neq(0)));
        MemoryTensors gram = regmean ? Grams.compute(model, data.sample(gramSamples, seed + 2), gramDtype, 256) : null;
        double statisticsSeconds = (System.nanoTime() - s0) / 1e9;

        listener.phase("commit");
        try (MemoryTensors next = new MemoryTensors(metadataOf(base, model), "trained from " + head.abbreviate(12));
             MemoryTensors fisherTensors = new MemoryTensors(Map.of(), "Fisher of " + data.description());
             gram) {
            for (TensorInfo t : model.layout()) {
                NDArray v = start.get(t.name()).add(changed.get(t.name()));
                v.attach(work);
                Model.copyOut(v, next.add(t));
                Model.copyOut(fisher.get(t.name()), fisherTensors.add(t));
            }
            ObjectNode prov = provenance(stats, keep.count());
            var cmd = repo.commit().setSource(next).setFisher(fisherTensors).setGram(gram)
                    .setValueCoding(values).setMessage(message).setProvenance(prov);
            if (author != null) {
                cmd.setAuthor(author);
            }
            CommitResult r = cmd.call();
            long changedEntries = r.commit().provenance().path("selection").path("kept_entries").asLong();
            if (errorFeedback) {
                saveResidual(residualFile, r.id(), start, update, model, work);
            }
            long fisherBytes = r.commit().provenance().path("fisher_bytes").asLong();
            long gramBytes = r.commit().provenance().path("gram_bytes").asLong();
            return new TrainResult(r.id(), head, stats.steps(), stats.finalLoss(), stats.examplesPerSecond(), changedEntries,
                    n, r.commit().storedBytes() - fisherBytes - gramBytes, fisherBytes, gramBytes, 4 * n,
                    maskSeconds, stats.seconds(), statisticsSeconds);
        }
    }

    private static Map<String, NDArray> absOf(Map<String, NDArray> arrays, NDManager work) {
        Map<String, NDArray> abs = new LinkedHashMap<>();
        arrays.forEach((name, a) -> {
            NDArray x = a.abs();
            x.attach(work);
            abs.put(name, x);
        });
        return abs;
    }

    private Map<String, String> metadataOf(TensorSource base, Model model) {
        Map<String, String> md = new LinkedHashMap<>(base.metadata());
        md.put(ModelSpec.METADATA_KEY, model.network().spec().text());
        return md;
    }

    private ObjectNode provenance(MaskedTrainer.Stats stats, long kept) {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        ObjectNode t = root.putObject("training");
        t.put("data", data.description());
        t.put("examples", data.size());
        t.put("steps", steps);
        t.put("batch", batch);
        t.put("lr", lr);
        t.put("optimizer", optimizer.name().toLowerCase());
        t.put("mask", mask.name().toLowerCase());
        t.put("density", density);
        t.put("mask_entries", kept);
        t.put("fisher", fisherKind.name().toLowerCase());
        t.put("fisher_samples", fisherSamples);
        t.put("regmean", regmean);
        if (proximal > 0) {
            t.put("proximal", proximal);
        }
        t.put("values", values.name().toLowerCase());
        t.put("seed", seed);
        t.put("final_loss", stats.finalLoss());
        t.put("examples_per_second", stats.examplesPerSecond());
        t.put("engine", "DJL PyTorch " + Engines.pytorch().getVersion() + " on " + device);
        root.setAll(provenance);
        return root;
    }

    /** The residual left by the previous round, if it exists and fits this model; else none. */
    private static Map<String, NDArray> loadResidual(Path file, Model model, NDManager work) {
        if (!Files.isRegularFile(file)) {
            return Map.of();
        }
        Map<String, NDArray> r = new LinkedHashMap<>();
        try (TensorSource s = Safetensors.open(file)) {
            for (TensorInfo t : model.layout()) {
                Optional<TensorInfo> have = s.info(t.name());
                if (have.isEmpty() || !have.get().sameLayout(t)) {
                    return Map.of(); // another model's residual: start afresh
                }
            }
            for (TensorInfo t : model.layout()) {
                r.put(t.name(), Model.load(work, s.data(t.name()), t.shape()));
            }
        }
        return r;
    }

    /** Keeps update - (committed - start): what value coding and the mask left out, for the next round. */
    private void saveResidual(Path file, ObjectId commit, Map<String, NDArray> start, Map<String, NDArray> update,
                              Model model, NDManager work) {
        try (TensorSource committed = repo.openVersion(commit);
             MemoryTensors res = new MemoryTensors(Map.of("merit.residual.after", commit.name()), "residual")) {
            for (TensorInfo t : model.layout()) {
                NDArray c = Model.load(work, committed.data(t.name()), t.shape());
                NDArray r = update.get(t.name()).sub(c.sub(start.get(t.name())));
                r.attach(work);
                Model.copyOut(r, res.add(t));
            }
            Files.createDirectories(file.getParent());
            SafetensorsWriter.write(res, file);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
    }
}
