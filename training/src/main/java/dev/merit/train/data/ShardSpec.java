package dev.merit.train.data;

import dev.merit.error.InvalidInputException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Which part of the training images a contributor trains on. A validation split (every 12th
 * example of a seeded permutation, a fixed {@value #VALIDATION_SEED} seed) is held out of every
 * shard. The rest is split, reproducibly for a given seed:
 * <ul>
 *   <li>{@code all}: everything but the validation split;</li>
 *   <li>{@code iid:K:i}: part i (0-based) of K equal parts of a seeded permutation;</li>
 *   <li>{@code dirichlet:ALPHA:K:i}: label skew: each class's examples are split over the K parts
 *       in proportions drawn from Dirichlet(ALPHA) (small ALPHA: each part sees few classes);</li>
 *   <li>{@code classes:C:K:i}: part i gets classes i*C .. i*C+C-1 (mod 10), each class shared
 *       evenly by the parts that hold it.</li>
 * </ul>
 */
public record ShardSpec(String text, Kind kind, double alpha, int classes, int parts, int part) {

    public enum Kind { ALL, IID, DIRICHLET, CLASSES }

    static final long VALIDATION_SEED = 0x5EED;
    static final int VALIDATION_EVERY = 12;

    public static ShardSpec parse(String spec) {
        String[] f = spec.trim().split(":");
        try {
            switch (f[0]) {
                case "all" -> {
                    if (f.length == 1) {
                        return new ShardSpec("all", Kind.ALL, 0, 0, 1, 0);
                    }
                }
                case "iid" -> {
                    if (f.length == 3) {
                        return checked(spec, Kind.IID, 0, 0, Integer.parseInt(f[1]), Integer.parseInt(f[2]));
                    }
                }
                case "dirichlet" -> {
                    if (f.length == 4) {
                        double a = Double.parseDouble(f[1]);
                        if (!(a > 0) || Double.isInfinite(a)) {
                            throw new InvalidInputException("shard '" + spec + "': ALPHA must be > 0");
                        }
                        return checked(spec, Kind.DIRICHLET, a, 0, Integer.parseInt(f[2]), Integer.parseInt(f[3]));
                    }
                }
                case "classes" -> {
                    if (f.length == 4) {
                        int c = Integer.parseInt(f[1]);
                        if (c < 1 || c > ImageSet.CLASSES) {
                            throw new InvalidInputException("shard '" + spec + "': C must be 1.." + ImageSet.CLASSES);
                        }
                        return checked(spec, Kind.CLASSES, 0, c, Integer.parseInt(f[2]), Integer.parseInt(f[3]));
                    }
                }
                default -> { }
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new InvalidInputException("shard '" + spec + "': expected all, iid:K:i, dirichlet:ALPHA:K:i or classes:C:K:i");
    }

    private static ShardSpec checked(String spec, Kind kind, double alpha, int classes, int k, int i) {
        if (k < 1 || i < 0 || i >= k) {
            throw new InvalidInputException("shard '" + spec + "': need K >= 1 and 0 <= i < K");
        }
        return new ShardSpec(spec.trim(), kind, alpha, classes, k, i);
    }

    /** The held-out validation examples of a training set; never part of a shard. */
    public static Examples validation(ImageSet train) {
        int[] perm = permutation(train.size(), VALIDATION_SEED);
        int[] v = new int[(train.size() + VALIDATION_EVERY - 1) / VALIDATION_EVERY];
        int n = 0;
        for (int k = 0; k < perm.length; k += VALIDATION_EVERY) {
            v[n++] = perm[k];
        }
        Arrays.sort(v, 0, n);
        return new Examples(train, Arrays.copyOf(v, n), train.source() + " [validation]");
    }

    /** Every training example not in the validation split, in a seeded order. */
    static int[] pool(ImageSet train) {
        int[] perm = permutation(train.size(), VALIDATION_SEED);
        int[] rest = new int[train.size() - (train.size() + VALIDATION_EVERY - 1) / VALIDATION_EVERY];
        int n = 0;
        for (int k = 0; k < perm.length; k++) {
            if (k % VALIDATION_EVERY != 0) {
                rest[n++] = perm[k];
            }
        }
        return rest;
    }

    /** This shard of {@code train}; the same spec and seed always give the same examples. */
    public Examples select(ImageSet train, long seed) {
        int[] rest = pool(train);
        int[] picked = switch (kind) {
            case ALL -> rest;
            case IID -> {
                int[] p = shuffled(rest, seed);
                long from = (long) p.length * part / parts;
                long to = (long) p.length * (part + 1) / parts;
                yield Arrays.copyOfRange(p, (int) from, (int) to);
            }
            case DIRICHLET -> dirichlet(train, rest, seed);
            case CLASSES -> byClasses(train, rest, seed);
        };
        int[] sorted = picked.clone();
        Arrays.sort(sorted);
        return new Examples(train, sorted, train.source() + " [" + text + (kind == Kind.ALL ? "" : ", seed " + seed) + "]");
    }

    private List<List<Integer>> byClass(ImageSet train, int[] rest, long seed) {
        List<List<Integer>> c = new ArrayList<>();
        for (int k = 0; k < ImageSet.CLASSES; k++) {
            c.add(new ArrayList<>());
        }
        for (int i : shuffled(rest, seed)) {
            c.get(train.label(i)).add(i);
        }
        return c;
    }

    private int[] dirichlet(ImageSet train, int[] rest, long seed) {
        List<List<Integer>> classes = byClass(train, rest, seed);
        SplittableRandom rnd = new SplittableRandom(seed ^ 0xD1B54A32D192ED03L);
        List<Integer> mine = new ArrayList<>();
        for (List<Integer> members : classes) {
            double[] w = new double[parts];
            double sum = 0;
            for (int k = 0; k < parts; k++) {
                w[k] = gamma(alpha, rnd);
                sum += w[k];
            }
            double before = 0;
            for (int k = 0; k < part; k++) {
                before += w[k];
            }
            int from = (int) Math.round(members.size() * before / sum);
            int to = (int) Math.round(members.size() * (before + w[part]) / sum);
            mine.addAll(members.subList(from, to));
        }
        return mine.stream().mapToInt(Integer::intValue).toArray();
    }

    private int[] byClasses(ImageSet train, int[] rest, long seed) {
        List<List<Integer>> classes = byClass(train, rest, seed);
        List<Integer> mine = new ArrayList<>();
        for (int c = 0; c < ImageSet.CLASSES; c++) {
            // the parts holding class c, in order
            List<Integer> holders = new ArrayList<>();
            for (int k = 0; k < parts; k++) {
                for (int j = 0; j < classes.size() && j < this.classes; j++) {
                    if ((k * this.classes + j) % ImageSet.CLASSES == c) {
                        holders.add(k);
                        break;
                    }
                }
            }
            int at = holders.indexOf(part);
            if (at >= 0) {
                List<Integer> members = classes.get(c);
                long from = (long) members.size() * at / holders.size();
                long to = (long) members.size() * (at + 1) / holders.size();
                mine.addAll(members.subList((int) from, (int) to));
            }
        }
        return mine.stream().mapToInt(Integer::intValue).toArray();
    }

    /** A Gamma(shape, 1) draw (Marsaglia and Tsang; shape < 1 through the boost u^(1/shape)). */
    static double gamma(double shape, SplittableRandom rnd) {
        if (shape < 1) {
            return gamma(shape + 1, rnd) * Math.pow(rnd.nextDouble(), 1 / shape);
        }
        double d = shape - 1.0 / 3;
        double c = 1 / Math.sqrt(9 * d);
        while (true) {
            double x;
            double v;
            do {
                x = gaussian(rnd);
                v = 1 + c * x;
            } while (v <= 0);
            v = v * v * v;
            double u = rnd.nextDouble();
            if (u < 1 - 0.0331 * x * x * x * x || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) {
                return d * v;
            }
        }
    }

    private static double gaussian(SplittableRandom rnd) {
        double u1 = rnd.nextDouble();
        double u2 = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
    }

    static int[] permutation(int n, long seed) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        return shuffled(p, seed);
    }

    static int[] shuffled(int[] a, long seed) {
        int[] p = a.clone();
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int i = p.length - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
