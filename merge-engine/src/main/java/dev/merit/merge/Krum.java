package dev.merit.merge;

import java.util.Arrays;

/**
 * Krum and Multi-Krum (Blanchard et al.): scores each input by the squared distances to its
 * n - f - 2 nearest others, over the tensors of one rule, from the scan's norms and dots (so
 * distances between sparse changes cost only their supports).
 */
final class Krum {

    private Krum() {}

    /** Each input's weight under rule {@code r}: 1 for Krum's choice, the input's weight for Multi-Krum's, else 0. */
    static float[] weights(MergePlan plan, Rule r, Scan scan) {
        int n = plan.n;
        double[] dist = new double[n * n];
        for (TensorCtx c : plan.tensors) {
            if (c.rule != r || !c.merged) {
                continue;
            }
            double[] sq = scan.tensor[c.index].sumsq;
            double[] dt = scan.tensor[c.index].dot;
            for (int i = 0; i < n; i++) {
                double si = c.scale == null ? 1 : c.scale[i];
                for (int j = i + 1; j < n; j++) {
                    double sj = c.scale == null ? 1 : c.scale[j];
                    dist[i * n + j] += si * si * sq[i] + sj * sj * sq[j] - 2 * si * sj * dt[i * n + j];
                }
            }
        }
        int f = plan.byzantine(r.params());
        int neighbours = n - f - 2;
        double[] score = new double[n];
        for (int i = 0; i < n; i++) {
            double[] others = new double[n - 1];
            int k = 0;
            for (int j = 0; j < n; j++) {
                if (j != i) {
                    others[k++] = Math.max(0, dist[Math.min(i, j) * n + Math.max(i, j)]);
                }
            }
            Arrays.sort(others);
            for (int q = 0; q < neighbours; q++) {
                score[i] += others[q];
            }
        }
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> score[a] != score[b] ? Double.compare(score[a], score[b]) : Integer.compare(a, b));
        float[] w = new float[n];
        if (r.strategy() == Strategy.KRUM) {
            w[order[0]] = 1f; // Krum takes the chosen change as is, whatever its weight
        } else {
            int m = r.params().select() > 0 ? r.params().select() : n - f;
            for (int q = 0; q < m; q++) {
                w[order[q]] = (float) plan.inputs.get(order[q]).weight();
            }
        }
        return w;
    }
}
