package dev.merit.experiment;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.merit.train.Fisher;
import dev.merit.train.MaskedTrainer;
import dev.merit.train.Masks;
import dev.merit.train.MemoryTensors;
import dev.merit.train.Model;
import dev.merit.train.ModelSpec;
import dev.merit.train.Network;
import dev.merit.train.TrainListener;
import dev.merit.train.data.Examples;
import dev.merit.train.data.ShardSpec;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Q2: fine-tuning a briefly trained base on a Dirichlet shard with every entry, or only the
 * entries of a FISH, random or magnitude mask, through the trainer's {@link MaskedTrainer}.
 * The measure is the accuracy gain over the base.
 */
final class SparseExperiment {

    static final double[] DENSITIES = {0.001, 0.005, 0.02, 0.05};

    /**
     * Fine-tuning data: an IID fifth of the pool, disjoint from the base's {@code iid:20:0}, so the
     * test images measure the task trained on (a skewed shard would measure forgetting instead).
     */
    static final String FINE_TUNE_SHARD = "iid:5:1";

    private final Lab lab;
    private final Config cfg;
    private final PrintWriter progress;

    SparseExperiment(Lab lab, Config cfg, PrintWriter progress) {
        this.lab = lab;
        this.cfg = cfg;
        this.progress = progress;
    }

    Results q2(int seeds, List<String> models, List<MaskedTrainer.Optimizer> optimizers) {
        Results r = new Results("q2", "Q2 sparse fine-tuning: test accuracy gain over the base (points)", "gain");
        r.config().put("base", cfg.baseShard() + ", " + baseSteps() + " SGD steps at lr 0.1");
        r.config().put("fine-tuning", cfg.steps() + " steps, batch " + cfg.batch() + " on shard " + FINE_TUNE_SHARD + "; SGD lr " + cfg.lr() + ", Adam lr 0.001");
        r.config().put("fisher_samples", cfg.fisherSamples());
        for (String model : models) {
            ModelSpec spec = ModelSpec.parse(model);
            for (MaskedTrainer.Optimizer opt : optimizers) {
                String group = model + " " + opt.name().toLowerCase(Locale.ROOT);
                double lr = opt == MaskedTrainer.Optimizer.SGD ? cfg.lr() : 0.001;
                for (int s = 0; s < seeds; s++) {
                    long t0 = System.nanoTime();
                    Examples baseData = ShardSpec.parse(cfg.baseShard()).select(lab.train, s);
                    Examples shard = ShardSpec.parse(FINE_TUNE_SHARD).select(lab.train, s);
                    try (MemoryTensors init = spec.initialize(s);
                         MemoryTensors base = lab.train(spec, init, baseData, null, MaskedTrainer.Optimizer.SGD, 0.1, baseSteps(),
                                 cfg.batch(), s, "base")) {
                        double baseAcc = lab.accuracy(spec, base);
                        r.add(group, "base accuracy (absolute)", baseAcc);
                        r.add(group, "full", gain(spec, base, shard, null, null, opt, lr, s, baseAcc));
                        // The FISH scores at the base do not depend on the density: computed once per seed.
                        MemoryTensors fisher = lab.fisher(spec, base, shard, cfg.fisherSamples(), Fisher.Kind.EMPIRICAL, s);
                        for (double d : DENSITIES) {
                            for (Masks.Kind kind : List.of(Masks.Kind.FISH, Masks.Kind.RANDOM, Masks.Kind.MAGNITUDE)) {
                                r.add(group, String.format(Locale.ROOT, "%s %.1f%%", kind.name().toLowerCase(Locale.ROOT), 100 * d),
                                        gain(spec, base, shard, fisher, new double[] {d, kind.ordinal()}, opt, lr, s, baseAcc));
                            }
                        }
                        fisher.close();
                    }
                    progress.printf(Locale.ROOT, "  %s seed %d done in %.0f s%n", group, s, (System.nanoTime() - t0) / 1e9);
                    progress.flush();
                }
            }
        }
        return r;
    }

    /** A shorter base than Q1's, leaving room for fine-tuning to gain. */
    private int baseSteps() {
        return Math.max(1, cfg.baseSteps() / 6);
    }

    /**
     * Trains a copy of the base with the mask {@code maskSpec} = {density, kind ordinal} (null: every entry; FISH ranks
     * {@code fisher}); returns the test accuracy minus the base's.
     */
    private double gain(ModelSpec spec, MemoryTensors base, Examples shard, MemoryTensors fisher, double[] maskSpec,
                        MaskedTrainer.Optimizer opt, double lr, long seed, double baseAcc) {
        try (Model m = new Model(Network.of(base, Optional.of(spec)), base, lab.device);
             NDManager work = m.manager().newSubManager()) {
            Masks.Mask mask = null;
            if (maskSpec != null) {
                long k = Masks.k(maskSpec[0], m.parameterCount());
                Masks.Kind kind = Masks.Kind.values()[(int) maskSpec[1]];
                mask = switch (kind) {
                    case FISH -> {
                        Map<String, NDArray> f = new java.util.LinkedHashMap<>();
                        for (var t : fisher.tensors()) {
                            float[] v = fisher.data(t.name()).toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED
                                    .withOrder(java.nio.ByteOrder.LITTLE_ENDIAN));
                            f.put(t.name(), work.create(v, new ai.djl.ndarray.types.Shape(t.shape())));
                        }
                        yield Masks.topK(f, k, work);
                    }
                    case RANDOM -> Masks.random(m.params(), k, seed, work);
                    default -> Masks.magnitude(m.params(), k, work);
                };
            }
            long t0 = System.nanoTime();
            new MaskedTrainer(m, mask, opt, lr).train(shard, cfg.steps(), cfg.batch(), seed + 7, TrainListener.NONE);
            double g = dev.merit.train.Evaluator.evaluate(m, lab.test).accuracy() - baseAcc;
            progress.printf(Locale.ROOT, "    %s %s seed %d: %+.2f points in %.0f s%n", spec.text(), maskSpec == null ? "full"
                    : String.format(Locale.ROOT, "%s %.1f%%", Masks.Kind.values()[(int) maskSpec[1]].name().toLowerCase(Locale.ROOT),
                    100 * maskSpec[0]), seed, 100 * g, (System.nanoTime() - t0) / 1e9);
            progress.flush();
            return g;
        }
    }
}
