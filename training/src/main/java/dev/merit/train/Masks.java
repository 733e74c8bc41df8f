package dev.merit.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.merit.error.InvalidInputException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Which entries a round may change: exactly k = round(density x parameters) of them, chosen
 * over all tensors at once. FISH (Sung, Nair and Raffel) keeps the k entries with the largest
 * diagonal Fisher at the starting point; {@code magnitude} the largest |weight|; {@code random}
 * a seeded random k. Ties go to the earlier entry (checkpoint order, then row-major), so the
 * count is exact.
 */
public final class Masks {

    public enum Kind {
        FISH, RANDOM, MAGNITUDE, NONE;

        public static Kind parse(String s) {
            try {
                return valueOf(s.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new InvalidInputException("--mask must be fish, random, magnitude or none, got '" + s + "'");
            }
        }
    }

    /** Per tensor a 0/1 float array of the parameter's shape, and how many ones in all. */
    public record Mask(Map<String, NDArray> masks, long count) {
        public NDArray of(String name) {
            return masks.get(name);
        }
    }

    private Masks() {}

    /** k for a density over {@code n} parameters. */
    public static long k(double density, long n) {
        if (!(density > 0) || density > 1) {
            throw new InvalidInputException("--density must be in (0, 1], got " + density);
        }
        return Math.max(1, Math.round(density * n));
    }

    /** The k entries with the largest {@code scores} (non-negative, e.g. Fisher or |w|). */
    public static Mask topK(Map<String, NDArray> scores, long k, NDManager into) {
        long n = scores.values().stream().mapToLong(a -> a.getShape().size()).sum();
        if (n > Integer.MAX_VALUE) {
            throw new InvalidInputException("a global top-k over " + n + " entries is beyond this trainer's limit of 2^31");
        }
        // Sorting (value bits, reversed index) ascending puts the k largest, earliest first on ties, last.
        long[] keys = new long[(int) n];
        int at = 0;
        for (NDArray a : scores.values()) {
            for (float v : a.toFloatArray()) {
                float s = Float.isNaN(v) || v < 0 ? 0f : v;
                keys[at] = ((long) Float.floatToIntBits(s) << 32) | (0xFFFFFFFFL - at);
                at++;
            }
        }
        Arrays.sort(keys);
        boolean[] keep = new boolean[(int) n];
        for (int i = keys.length - 1; i >= keys.length - k; i--) {
            keep[(int) (0xFFFFFFFFL - (keys[i] & 0xFFFFFFFFL))] = true;
        }
        return fromFlags(scores, keep, k, into);
    }

    /** A seeded random choice of exactly k entries. */
    public static Mask random(Map<String, NDArray> params, long k, long seed, NDManager into) {
        long n = params.values().stream().mapToLong(a -> a.getShape().size()).sum();
        boolean[] keep = new boolean[(int) n];
        SplittableRandom rnd = new SplittableRandom(seed);
        // Floyd's algorithm: k distinct picks without a full permutation.
        for (long j = n - k; j < n; j++) {
            int t = (int) rnd.nextLong(j + 1);
            if (keep[t]) {
                keep[(int) j] = true;
            } else {
                keep[t] = true;
            }
        }
        return fromFlags(params, keep, k, into);
    }

    /** The k entries of largest magnitude. */
    public static Mask magnitude(Map<String, NDArray> params, long k, NDManager into) {
        try (NDManager tmp = into.newSubManager()) {
            Map<String, NDArray> abs = new LinkedHashMap<>();
            params.forEach((name, p) -> {
                NDArray a = p.abs();
                a.attach(tmp);
                abs.put(name, a);
            });
            return topK(abs, k, into);
        }
    }

    private static Mask fromFlags(Map<String, NDArray> like, boolean[] keep, long k, NDManager into) {
        Map<String, NDArray> masks = new LinkedHashMap<>();
        int at = 0;
        for (Map.Entry<String, NDArray> e : like.entrySet()) {
            Shape shape = e.getValue().getShape();
            float[] m = new float[(int) shape.size()];
            for (int i = 0; i < m.length; i++) {
                m[i] = keep[at++] ? 1f : 0f;
            }
            masks.put(e.getKey(), into.create(m, shape));
        }
        return new Mask(masks, k);
    }
}
