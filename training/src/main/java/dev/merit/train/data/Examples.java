package dev.merit.train.data;

import java.util.Arrays;

/** A subset of an {@link ImageSet}: the examples a contributor trains or evaluates on. */
public record Examples(ImageSet images, int[] indices, String description) {

    public Examples {
        indices = indices.clone();
    }

    @Override
    public int[] indices() {
        return indices.clone();
    }

    public int size() {
        return indices.length;
    }

    /** Number of examples per class. */
    public int[] classCounts() {
        int[] c = new int[ImageSet.CLASSES];
        for (int i : indices) {
            c[images.label(i)]++;
        }
        return c;
    }

    /** The first {@code n} examples (all if fewer). */
    public Examples head(int n) {
        return new Examples(images, Arrays.copyOf(indices, Math.min(n, indices.length)), description);
    }

    /** {@code n} examples (all if fewer) in a seeded random order. */
    public Examples sample(int n, long seed) {
        int[] p = ShardSpec.shuffled(indices, seed);
        return new Examples(images, Arrays.copyOf(p, Math.min(n, p.length)), description);
    }

    /** Direct access for batching, without a copy. */
    int[] raw() {
        return indices;
    }
}
