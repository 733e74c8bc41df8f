package dev.merit.merge;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Sets what each tensor's merge needs before the merge pass, from the plan and the scan: input
 * weights (Krum zeroes the rejected), clip factors, Fisher multipliers and DARE streams.
 */
final class TensorSettings {

    private TensorSettings() {}

    /** Fills every tensor's settings; returns Krum's choices (input labels) per rule pattern. */
    static Map<String, List<String>> derive(MergePlan plan, Scan scan) {
        int n = plan.n;
        double[] modelSq = new double[n];
        double[] fisherMean = new double[n + 1];
        if (scan != null) {
            double[] fs = new double[n + 1];
            double[] fc = new double[n + 1];
            for (TensorCtx c : plan.tensors) {
                if (c.merged) {
                    Scan.Sums t = scan.tensor[c.index];
                    for (int i = 0; i < n; i++) {
                        modelSq[i] += t.sumsq[i];
                    }
                    for (int i = 0; i <= n; i++) {
                        fs[i] += t.fisherSum[i];
                        fc[i] += t.fisherCount[i];
                    }
                }
            }
            for (int i = 0; i <= n; i++) {
                fisherMean[i] = fc[i] > 0 ? fs[i] / fc[i] : 0;
            }
        }
        for (TensorCtx c : plan.tensors) {
            MergeParameters p = c.rule.params();
            c.w = new float[n];
            for (int i = 0; i < n; i++) {
                c.w[i] = (float) plan.inputs.get(i).weight();
            }
            c.scale = null;
            if (p.clipNorm() > 0 && c.merged) {
                c.scale = new float[n];
                for (int i = 0; i < n; i++) {
                    double sq = p.clipScope() == MergeParameters.ClipScope.TENSOR ? scan.tensor[c.index].sumsq[i] : modelSq[i];
                    double norm = Math.sqrt(sq);
                    c.scale[i] = norm > p.clipNorm() ? (float) (p.clipNorm() / norm) : 1f;
                }
            }
            c.fisherInv = new float[n + 1];
            for (int i = 0; i <= n; i++) {
                boolean normalize = p.normalizeFishers() && c.rule.strategy() == Strategy.FISHER && fisherMean[i] > 0;
                c.fisherInv[i] = normalize ? (float) (1 / fisherMean[i]) : 1f;
            }
            if (c.rule.strategy() == Strategy.DARE) {
                c.salt = new long[n];
                for (int i = 0; i < n; i++) {
                    c.salt[i] = Dare.salt(p.seed(), i, c.name());
                }
            }
        }
        Map<String, List<String>> selected = new LinkedHashMap<>();
        for (Rule r : plan.allRules()) {
            if (!r.strategy().isKrum() || plan.tensors.stream().noneMatch(c -> c.rule == r)) {
                continue;
            }
            float[] w = Krum.weights(plan, r, scan);
            List<String> chosen = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                if (w[i] != 0) {
                    chosen.add(plan.inputs.get(i).label());
                }
            }
            selected.put(r.pattern(), chosen);
            plan.tensors.stream().filter(c -> c.rule == r).forEach(c -> c.w = w.clone());
        }
        for (TensorCtx c : plan.tensors) {
            float s = 0;
            for (float x : c.w) {
                s += x;
            }
            c.wSum = s;
        }
        return selected;
    }
}
