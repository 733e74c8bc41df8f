package dev.merit.experiment;

import dev.merit.merge.recipe.MergeRunner;
import dev.merit.merge.recipe.Recipe;
import dev.merit.safetensors.Safetensors;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import dev.merit.train.Fisher;
import dev.merit.train.MaskedTrainer;
import dev.merit.train.MemoryTensors;
import dev.merit.train.ModelSpec;
import dev.merit.train.data.Examples;
import dev.merit.train.data.ShardSpec;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Q1 (merge quality) and Q4 (poisoned contributors): a base trained briefly on a small IID part,
 * K contributors fine-tuning it (every entry) on non-IID shards, then every strategy merging
 * their checkpoints through a recipe file run by the merge engine, exactly as
 * {@code merit merge --recipe} runs it. The files stay under the output folder.
 */
final class MergeExperiment {

    /** The Q1 strategies: name, then the recipe lines after {@code base:} and before {@code models:}. */
    static final Map<String, String> Q1_STRATEGIES = new LinkedHashMap<>();

    static {
        Q1_STRATEGIES.put("average", "strategy: average\n");
        Q1_STRATEGIES.put("fisher-empirical", "strategy: fisher\nfisher: empirical\n");
        Q1_STRATEGIES.put("fisher-exact", "strategy: fisher\nfisher: exact\n");
        Q1_STRATEGIES.put("fisher-empirical-favor-base", "strategy: fisher\nfisher: empirical\nfavor_base: true\n");
        Q1_STRATEGIES.put("fisher-exact-favor-base", "strategy: fisher\nfisher: exact\nfavor_base: true\n");
        Q1_STRATEGIES.put("regmean", "strategy: regmean\n");
        Q1_STRATEGIES.put("task-arithmetic", "strategy: task-arithmetic\nparameters: {lambda: 0.4}\n");
        Q1_STRATEGIES.put("ties", "strategy: ties\nparameters: {density: 0.2, lambda: 1.0}\n");
        Q1_STRATEGIES.put("dare", "strategy: dare\nparameters: {drop_rate: 0.9, lambda: 0.2, seed: 0}\n");
    }

    static final Map<String, String> Q4_STRATEGIES = new LinkedHashMap<>();

    static {
        Q4_STRATEGIES.put("average", "strategy: average\n");
        Q4_STRATEGIES.put("fisher-empirical", "strategy: fisher\nfisher: empirical\n");
        Q4_STRATEGIES.put("median", "strategy: median\n");
        Q4_STRATEGIES.put("trimmed-mean", "strategy: trimmed-mean\nparameters: {beta: 0.2}\n");
        Q4_STRATEGIES.put("krum", "strategy: krum\nparameters: {byzantine: 1}\n");
    }

    private final Lab lab;
    private final Config cfg;
    private final ModelSpec spec;
    private final Consumer<String> log;
    private final PrintWriter progress;
    private final Path data;

    MergeExperiment(Lab lab, Config cfg, PrintWriter progress) {
        this(lab, cfg, progress, null);
    }

    /** {@code data}: the data folder the experiment runs on, for the coordinator's gate (null: the default). */
    MergeExperiment(Lab lab, Config cfg, PrintWriter progress, Path data) {
        this.lab = lab;
        this.cfg = cfg;
        this.progress = progress;
        this.data = data;
        this.spec = ModelSpec.parse(cfg.model());
        this.log = s -> {
            progress.println(s);
            progress.flush();
        };
    }

    /** One trained population: the folder with base, contributors, Fishers and Grams, and their accuracies. */
    record Population(Path dir, List<Examples> shards, double base) {}

    Population population(Path dir, String setting, long seed, Results r, String group) throws IOException {
        Files.createDirectories(dir);
        Examples baseData = ShardSpec.parse(cfg.baseShard()).select(lab.train, seed);
        MemoryTensors init = spec.initialize(seed);
        List<Examples> shards = new ArrayList<>();
        try (init; MemoryTensors base = lab.train(spec, init, baseData, null, MaskedTrainer.Optimizer.SGD, 0.1, cfg.baseSteps(),
                cfg.batch(), seed, "base")) {
            Lab.write(base, dir.resolve("base.safetensors"));
            for (Fisher.Kind k : Fisher.Kind.values()) {
                try (MemoryTensors f = lab.fisher(spec, base, baseData, cfg.fisherSamples(), k, seed)) {
                    Lab.write(f, dir.resolve("base.fisher-" + k.name().toLowerCase(Locale.ROOT) + ".safetensors"));
                }
            }
            double baseAcc = lab.accuracy(spec, base);
            r.add(group, "base", baseAcc);
            List<float[]> probs = new ArrayList<>();
            for (int i = 0; i < cfg.contributors(); i++) {
                Examples shard = ShardSpec.parse(setting + ":" + cfg.contributors() + ":" + i).select(lab.train, seed);
                shards.add(shard);
                try (MemoryTensors c = lab.train(spec, base, shard, null, MaskedTrainer.Optimizer.SGD, cfg.lr(), cfg.steps(),
                        cfg.batch(), seed * 100 + i + 1, "contributor " + i)) {
                    Lab.write(c, dir.resolve("c" + i + ".safetensors"));
                    for (Fisher.Kind k : Fisher.Kind.values()) {
                        try (MemoryTensors f = lab.fisher(spec, c, shard, cfg.fisherSamples(), k, seed + i)) {
                            Lab.write(f, dir.resolve("c" + i + ".fisher-" + k.name().toLowerCase(Locale.ROOT) + ".safetensors"));
                        }
                    }
                    try (MemoryTensors g = lab.gram(spec, c, shard.sample(cfg.gramSamples(), seed + i))) {
                        Lab.write(g, dir.resolve("c" + i + ".gram.safetensors"));
                    }
                    double acc = lab.accuracy(spec, c);
                    r.add(group, "contributor " + i + " alone", acc);
                    probs.add(lab.probabilities(spec, c));
                    log.accept(String.format(Locale.ROOT, "  %s seed %d: contributor %d (%d examples) %.2f%%", setting, seed, i,
                            shard.size(), 100 * acc));
                }
            }
            r.add(group, "ensemble (mean of outputs)", lab.ensembleAccuracy(probs));
            try (MemoryTensors joint = lab.train(spec, base, Lab.union(shards), null, MaskedTrainer.Optimizer.SGD, cfg.lr(),
                    cfg.steps() * cfg.contributors(), cfg.batch(), seed * 100, "joint")) {
                Lab.write(joint, dir.resolve("joint.safetensors"));
                r.add(group, "joint training on the union", lab.accuracy(spec, joint));
            }
            Files.writeString(dir.resolve("LAYOUT.md"), layout(setting, seed));
            return new Population(dir, shards, baseAcc);
        }
    }

    /** Writes {@code <name>.yaml} in the population's folder, merges it with the engine and scores the result. */
    double merge(Path dir, String name, String strategyLines, List<String> models) throws IOException {
        String fisherKind = null;
        StringBuilder head = new StringBuilder("merit_recipe: 1\n");
        for (String line : strategyLines.split("\n")) {
            if (line.startsWith("fisher: ")) {
                fisherKind = line.substring(8).trim();
            } else if (line.startsWith("favor_base: true")) {
                head.append("base_fisher: base.fisher-").append(fisherKind).append(".safetensors\n");
                continue;
            } else {
                head.append(line).append('\n');
            }
        }
        boolean favor = strategyLines.contains("favor_base: true");
        StringBuilder y = new StringBuilder(head);
        y.append("base: base.safetensors\n");
        if (favor) {
            y.append("parameters: {favor_base: true, normalize_fishers: true}\n");
        } else if (fisherKind != null) {
            y.append("parameters: {normalize_fishers: true}\n");
        }
        y.append("models:\n");
        for (String m : models) {
            y.append("  - {model: ").append(m).append(".safetensors");
            if (fisherKind != null) {
                y.append(", fisher: ").append(m.replaceFirst("^poison-[a-z]+$", "c0")).append(".fisher-").append(fisherKind).append(".safetensors");
            }
            if (strategyLines.contains("regmean")) {
                y.append(", gram: ").append(m).append(".gram.safetensors");
            }
            y.append("}\n");
        }
        y.append("output: merged-").append(name).append(".safetensors\n");
        Path recipe = dir.resolve(name + ".yaml");
        Files.writeString(recipe, y.toString());
        Recipe parsed = Recipe.load(recipe);
        MergeRunner.files(dir).run(parsed);
        return lab.accuracy(spec, dir.resolve("merged-" + name + ".safetensors"));
    }

    Results q1(int seeds, Path out) throws IOException {
        Results r = new Results("q1", "Q1 merging: test accuracy of K fine-tuned contributors and their merges", "accuracy %");
        describe(r);
        for (String setting : List.of("dirichlet:0.3", "classes:2")) {
            for (int s = 0; s < seeds; s++) {
                long t0 = System.nanoTime();
                Path dir = out.resolve("q1").resolve(setting.replace(':', '-')).resolve("seed" + s);
                Population p = population(dir, setting, s, r, setting);
                List<String> models = new ArrayList<>();
                for (int i = 0; i < cfg.contributors(); i++) {
                    models.add("c" + i);
                }
                for (var e : Q1_STRATEGIES.entrySet()) {
                    r.add(setting, "merge: " + e.getKey(), merge(p.dir(), e.getKey(), e.getValue(), models));
                }
                fisherMass(r, setting, p.dir());
                log.accept(String.format(Locale.ROOT, "%s seed %d done in %.0f s", setting, s, (System.nanoTime() - t0) / 1e9));
            }
        }
        return r;
    }

    /** Q4: the Dirichlet population with contributor 0 replaced by an attack. */
    Results q4(int seeds, Path out) throws IOException {
        Results r = new Results("q4", "Q4 poisoned contributors: test accuracy with 1 of K contributors attacking", "accuracy %");
        describe(r);
        r.note("attacks", "sign-flip: base - 4 d0; scaled: base + 10 d0; noise: base + N(0, (10 rms(d0))^2); "
                + "the attacker sends c0's honest empirical Fisher (merge: rows, offline through recipes)");
        r.note("coordinator rows", "merit serve --policy batch --batch-size " + cfg.contributors() + " --strategy S --gate DATA "
                + "--gate-examples 2000 --gate-max-drop 1 --gate-on proposals|merges, one coordinator per scenario, each contributor's "
                + "model pushed as a signed proposal (1000 examples claimed by each); the branch head afterwards scored on the test images. "
                + "gate on proposals: each proposal applied to the head scored alone; gate on merges: the batch's merge scored before "
                + "it lands, leaving out at most (n-1)/2 proposals that make it fail");
        String setting = "dirichlet:0.3";
        for (int s = 0; s < seeds; s++) {
            Path dir = out.resolve("q4").resolve("seed" + s);
            Population p = population(dir, setting, s, new Results("scratch", "", ""), setting);
            List<String> honest = new ArrayList<>();
            for (int i = 0; i < cfg.contributors(); i++) {
                honest.add("c" + i);
            }
            r.add("clean", "base (nothing merged)", p.base());
            for (var e : q4Strategies().entrySet()) {
                r.add("clean", "merge: " + e.getKey(), merge(dir, "clean-" + e.getKey(), e.getValue(), honest));
            }
            for (String attack : List.of("flip", "scaled", "noise")) {
                poison(dir, attack, s);
                List<String> models = new ArrayList<>(honest);
                models.set(0, "poison-" + attack);
                r.add(attack, "base (nothing merged)", p.base());
                for (var e : q4Strategies().entrySet()) {
                    r.add(attack, "merge: " + e.getKey(), merge(dir, attack + "-" + e.getKey(), e.getValue(), models));
                }
            }
            coordinatorRows(r, dir, s);
            log.accept("q4 seed " + s + " done");
        }
        return r;
    }

    /** Krum with f = 1 needs at least 2f + 3 = 5 models: left out of smaller (quick) runs. */
    private Map<String, String> q4Strategies() {
        Map<String, String> m = new LinkedHashMap<>(Q4_STRATEGIES);
        if (cfg.contributors() < 5) {
            m.remove("krum");
        }
        return m;
    }

    /** The Q4 runs through a real coordinator: name, then the arguments of merit serve after the common ones. */
    static final Map<String, List<String>> Q4_COORDINATOR = new LinkedHashMap<>();

    static {
        Q4_COORDINATOR.put("median, gate on merges", List.of("--strategy", "median", "--gate-on", "merges"));
        Q4_COORDINATOR.put("trimmed-mean, gate on merges", List.of("--strategy", "trimmed-mean", "--merge-param", "beta=0.2",
                "--gate-on", "merges"));
        Q4_COORDINATOR.put("average, gate on merges", List.of("--strategy", "average", "--gate-on", "merges"));
        Q4_COORDINATOR.put("median, gate on proposals", List.of("--strategy", "median", "--gate-on", "proposals"));
    }

    /** Every scenario (clean and each attack, one branch each) through a coordinator per configuration. */
    private void coordinatorRows(Results r, Path dir, long seed) throws IOException {
        Map<String, List<Path>> branches = new LinkedHashMap<>();
        for (String scenario : List.of("clean", "flip", "scaled", "noise")) {
            List<Path> files = new ArrayList<>();
            for (int i = 0; i < cfg.contributors(); i++) {
                files.add(dir.resolve((i == 0 && !scenario.equals("clean") ? "poison-" + scenario : "c" + i) + ".safetensors"));
            }
            branches.put(scenario, files);
        }
        CoordinatorMerges cm = new CoordinatorMerges(lab, spec, data, progress);
        for (var c : Q4_COORDINATOR.entrySet()) {
            if (cfg.contributors() < 5 && !c.getKey().startsWith("median")) {
                continue; // a quick run checks the pipeline: one configuration per gate is enough
            }
            // One coordinator per scenario: a coordinator takes a change once, whoever signs it, so the honest
            // contributors' identical changes cannot be proposed on a second branch of the same coordinator.
            Map<String, CoordinatorMerges.Outcome> got = new LinkedHashMap<>();
            for (var b : branches.entrySet()) {
                try {
                    got.putAll(cm.run(dir.resolve("coordinator-" + c.getKey().replaceAll("[^a-z-]+", "-") + "-" + b.getKey()),
                            dir.resolve("base.safetensors"), Map.of(b.getKey(), b.getValue()), c.getValue()));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while the coordinator merged", e);
                }
            }
            for (var e : got.entrySet()) {
                CoordinatorMerges.Outcome o = e.getValue();
                r.add(e.getKey(), "coordinator: " + c.getKey(), o.accuracy());
                // Counts are stored as fractions of 100 so that the table's percent formatting prints them as they are.
                r.add(e.getKey(), "coordinator: " + c.getKey() + ": merged (of " + cfg.contributors() + ")", o.merged() / 100.0);
                r.note("coordinator " + c.getKey() + ", " + e.getKey() + ", seed " + seed, o.accepted() + " accepted at push, "
                        + o.merged() + " merged, left out at merge: " + (o.leftOut().isEmpty() ? "none" : String.join(" ", o.leftOut())));
            }
        }
    }

    private void poison(Path dir, String attack, long seed) {
        try (TensorSource base = Safetensors.open(dir.resolve("base.safetensors"));
             TensorSource c0 = Safetensors.open(dir.resolve("c0.safetensors"));
             MemoryTensors out = new MemoryTensors(base.metadata(), "poison " + attack)) {
            double sq = 0;
            long n = 0;
            for (TensorInfo t : base.tensors()) {
                for (long j = 0; j < t.numel(); j++) {
                    double d = c0.data(t.name()).getAtIndex(F32, j) - base.data(t.name()).getAtIndex(F32, j);
                    sq += d * d;
                    n++;
                }
            }
            double rms = Math.sqrt(sq / n);
            SplittableRandom rnd = new SplittableRandom(seed);
            for (TensorInfo t : base.tensors()) {
                MemorySegment o = out.add(t);
                MemorySegment b = base.data(t.name());
                MemorySegment c = c0.data(t.name());
                for (long j = 0; j < t.numel(); j++) {
                    float bj = b.getAtIndex(F32, j);
                    float d = c.getAtIndex(F32, j) - bj;
                    float v = switch (attack) {
                        case "flip" -> bj - 4 * d;
                        case "scaled" -> bj + 10 * d;
                        default -> (float) (bj + 10 * rms * gaussian(rnd));
                    };
                    o.setAtIndex(F32, j, v);
                }
            }
            Lab.write(out, dir.resolve("poison-" + attack + ".safetensors"));
        }
    }

    private static final java.lang.foreign.ValueLayout.OfFloat F32 =
            java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    private static double gaussian(SplittableRandom r) {
        double u = 1 - r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.nextDouble());
    }

    /** Why Fisher merging helps or not: each contributor's share of the classifier's (last layer's) Fisher mass. */
    private void fisherMass(Results r, String setting, Path dir) {
        List<TensorInfo> layout = spec.layout();
        String last = layout.get(layout.size() - 2).name();
        double[] mass = new double[cfg.contributors()];
        double total = 0;
        for (int i = 0; i < cfg.contributors(); i++) {
            try (TensorSource f = Safetensors.open(dir.resolve("c" + i + ".fisher-empirical.safetensors"))) {
                TensorInfo t = f.info(last).orElseThrow();
                double all = 0;
                double lastSum = 0;
                for (TensorInfo u : f.tensors()) {
                    for (long j = 0; j < u.numel(); j++) {
                        double v = f.data(u.name()).getAtIndex(F32, j);
                        all += v;
                        if (u.name().equals(t.name())) {
                            lastSum += v;
                        }
                    }
                }
                mass[i] = lastSum / all;
                total += mass[i];
            }
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < mass.length; i++) {
            sb.append(String.format(Locale.ROOT, "%sc%d %.3f", i == 0 ? "" : ", ", i, mass[i]));
        }
        r.note("classifier Fisher share (" + setting + ", last seed)", "fraction of each contributor's empirical Fisher mass on "
                + last + ": " + sb);
    }

    private void describe(Results r) {
        r.config().put("model", cfg.model());
        r.config().put("base", cfg.baseShard() + ", " + cfg.baseSteps() + " SGD steps at lr 0.1");
        r.config().put("contributors", cfg.contributors() + " x " + cfg.steps() + " dense SGD steps at lr " + cfg.lr()
                + ", batch " + cfg.batch());
        r.config().put("joint", cfg.contributors() * cfg.steps() + " steps on the union of the shards (same examples seen)");
        r.config().put("fisher_samples", cfg.fisherSamples());
        r.config().put("gram_samples", cfg.gramSamples());
        r.config().put("test", cfg.testExamples() > 0 ? cfg.testExamples() + " test images" : "all test images");
        r.config().put("data", lab.train.source());
        r.note("strategy parameters", "task-arithmetic lambda 0.4; ties density 0.2 lambda 1; dare p 0.9 lambda 0.2 (1/K, so "
                + "it is an average in expectation); fisher with normalize_fishers; favor_base with the base's Fisher on its own data; "
                + "regmean alpha 0.9 (default). Not tuned per seed.");
    }

    private String layout(String setting, long seed) {
        return "# Files of this run (" + setting + ", seed " + seed + ")\n\n"
                + "Model `" + cfg.model() + "`: linear layers with ReLU between, logits out, named like "
                + "`torch.nn.Sequential(Linear, ReLU, Linear, ...)` (`0.weight` `[out, in]`, `0.bias`, `2.weight`, ...). "
                + "Input: the 28x28 image's pixels divided by 255, flattened row by row (784 values). Output: 10 logits "
                + "(Fashion-MNIST classes); loss cross-entropy.\n\n"
                + "- `base.safetensors`: the base; `base.fisher-{empirical,exact}.safetensors` its Fisher on its own data\n"
                + "- `cI.safetensors`: contributor I fine-tuned on shard `" + setting + ":" + cfg.contributors() + ":I` "
                + "(shard seed " + seed + "), `cI.fisher-*.safetensors` its diagonal Fisher, `cI.gram.safetensors` its "
                + "RegMean Gram matrices (packed upper triangle)\n"
                + "- `joint.safetensors`: joint training on the union of the shards\n"
                + "- `NAME.yaml`: the recipe of each strategy; `merit merge --recipe NAME.yaml` rewrites "
                + "`merged-NAME.safetensors`, and `merit eval merged-NAME.safetensors --model " + cfg.model() + "` scores it.\n";
    }
}
