package dev.merit.store;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.error.InvalidInputException;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.lang.foreign.Arena;
import dev.merit.delta.Sparsifier;
import dev.merit.delta.SparsifyResult;
import dev.merit.delta.TensorPair;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Which entries of a change a commit keeps: all of them (lossless), the global top-k by
 * magnitude ({@code --density}), or those above a threshold ({@code --threshold}).
 */
public abstract sealed class Selection permits Selection.Lossless, Selection.Density, Selection.Threshold {

    private double keptNormFraction = 1.0;

    public static Selection lossless() {
        return new Lossless();
    }

    /** Keeps k = density x (number of parameters) changed entries with the largest |change|, over all tensors. */
    public static Selection density(double density) {
        if (!(density > 0 && density <= 1)) {
            throw new InvalidInputException("--density must be in (0, 1], got " + density);
        }
        return new Density(density);
    }

    /** Keeps entries with |change| > threshold. */
    public static Selection threshold(double threshold) {
        if (!(threshold >= 0) || Double.isInfinite(threshold)) {
            throw new InvalidInputException("--threshold must be a finite number >= 0, got " + threshold);
        }
        return new Threshold(threshold);
    }

    boolean isLossless() {
        return this instanceof Lossless;
    }

    /** Fraction of the change's L2 norm that the last {@link #select} kept. */
    public double lastKeptNormFraction() {
        return keptNormFraction;
    }

    abstract void describe(ObjectNode node);

    /**
     * The delta per tensor present in both {@code parent} and {@code source} with the same dtype
     * and shape, allocated in {@code arena}. Tensors without changes may be absent.
     */
    Map<String, SparseTensorDelta> select(TensorSource parent, TensorSource source, Arena arena) {
        List<TensorPair> pairs = source.tensors().stream()
                .filter(t -> parent.info(t.name()).filter(p -> p.sameLayout(t)).isPresent())
                .map(t -> new TensorPair(t, parent.data(t.name()), source.data(t.name())))
                .toList();
        SparsifyResult r = sparsifier(source).sparsify(pairs, arena);
        keptNormFraction = r.keptNormFraction();
        Map<String, SparseTensorDelta> out = new HashMap<>();
        for (SparseTensorDelta d : r.deltas()) {
            if (d.count() > 0) {
                out.put(d.info().name(), d);
            }
        }
        return out;
    }

    abstract Sparsifier sparsifier(TensorSource source);

    static final class Lossless extends Selection {
        @Override
        void describe(ObjectNode node) {
            node.put("mode", "lossless");
        }

        @Override
        Sparsifier sparsifier(TensorSource source) {
            return Sparsifier.allChanges();
        }
    }

    static final class Density extends Selection {
        final double density;

        Density(double density) {
            this.density = density;
        }

        @Override
        void describe(ObjectNode node) {
            node.put("mode", "density");
            node.put("density", density);
        }

        @Override
        Sparsifier sparsifier(TensorSource source) {
            // k counts every parameter of the new version, as FISH-style sparse updates define density.
            long params = source.tensors().stream().mapToLong(TensorInfo::numel).sum();
            return Sparsifier.topK(Math.round(density * params));
        }
    }

    static final class Threshold extends Selection {
        final double threshold;

        Threshold(double threshold) {
            this.threshold = threshold;
        }

        @Override
        void describe(ObjectNode node) {
            node.put("mode", "threshold");
            node.put("threshold", threshold);
        }

        @Override
        Sparsifier sparsifier(TensorSource source) {
            return Sparsifier.threshold(threshold);
        }
    }
}
