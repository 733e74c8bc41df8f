package dev.merit.coordinator.validate;

import dev.merit.tensor.TensorInfo;
import dev.merit.wire.ProposalSpec;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The structure checks that need only the header: every part names a base tensor, in base order,
 * with its dtype and shape; Fisher present for all parts or none (and when the strategy needs
 * one); Gram matrices, if any, each for a linear layer of the base (a 2-D floating-point weight
 * {@code [out, in]}: F32 or F16, packed {@code [in * (in + 1) / 2]} or {@code [in, in]}, its bytes
 * exactly that many values), for every linear layer when the strategy is regmean; the payload
 * within the size limit.
 */
public final class StructureCheck implements Validator {

    private final BaseLayouts layouts;
    private final ValidationConfig config;

    public StructureCheck(BaseLayouts layouts, ValidationConfig config) {
        this.layouts = layouts;
        this.config = config;
    }

    @Override
    public CheckResult check(ProposalSpec spec) throws Rejection {
        List<TensorInfo> base = layouts.of(spec);
        if (spec.parts().isEmpty()) {
            throw new Rejection("structure", "the proposal changes no tensor");
        }
        Map<String, Integer> index = new HashMap<>();
        for (int i = 0; i < base.size(); i++) {
            index.put(base.get(i).name(), i);
        }
        int last = -1;
        for (ProposalSpec.Part p : spec.parts()) {
            TensorInfo t = p.info();
            Integer at = index.get(t.name());
            if (at == null) {
                throw new Rejection("structure", "tensor '" + t.name() + "' is not in the base version");
            }
            TensorInfo b = base.get(at);
            if (!b.sameLayout(t)) {
                throw new Rejection("structure", "tensor '" + t.name() + "': " + t.dtype() + " " + t.shapeString()
                        + " != base " + b.dtype() + " " + b.shapeString());
            }
            if (!b.dtype().isFloatingPoint()) {
                throw new Rejection("structure", "tensor '" + t.name() + "' is " + b.dtype() + "; only floating-point tensors can change");
            }
            if (at <= last) {
                throw new Rejection("structure", "tensor '" + t.name() + "' is listed twice or out of the base's order");
            }
            last = at;
            if (p.deltaBytes() <= 0 || p.fisherBytes() < 0 || p.fisherBytes() % 4 != 0) {
                throw new Rejection("structure", "tensor '" + t.name() + "': bad payload sizes (delta " + p.deltaBytes()
                        + " bytes, Fisher " + p.fisherBytes() + " bytes)");
            }
            // A float32 Fisher value per changed entry at most (the ingest buffers one tensor's Fisher).
            if (p.fisherBytes() / 4 > b.numel() || p.fisherBytes() > Integer.MAX_VALUE - 8) {
                throw new Rejection("structure", "tensor '" + t.name() + "': Fisher of " + p.fisherBytes()
                        + " bytes is more than 4 bytes for each of the tensor's " + b.numel() + " entries");
            }
        }
        checkGrams(spec, base, index);
        long payload = 0;
        try {
            for (ProposalSpec.Part p : spec.parts()) {
                payload = Math.addExact(payload, Math.addExact(p.deltaBytes(), p.fisherBytes()));
            }
            for (ProposalSpec.Gram g : spec.grams()) {
                payload = Math.addExact(payload, g.bytes());
            }
        } catch (ArithmeticException overflow) {
            throw new Rejection("structure", "the declared payload sizes add up past 2^63 bytes");
        }
        boolean someFisher = spec.parts().stream().anyMatch(p -> p.fisherBytes() > 0);
        if (someFisher && !spec.hasFisher()) {
            throw new Rejection("structure", "a Fisher is given for some changed tensors but not all");
        }
        if (config.requireFisher() && !spec.hasFisher()) {
            throw new Rejection("structure", "this coordinator merges with a Fisher-weighted strategy: push with a Fisher");
        }
        if (payload > config.maxPayloadBytes()) {
            throw new Rejection("structure", "payload of " + payload + " bytes exceeds the limit of " + config.maxPayloadBytes());
        }
        if (spec.exampleCount() < 0) {
            throw new Rejection("structure", "example count " + spec.exampleCount() + " is negative");
        }
        return CheckResult.pass("structure", spec.parts().size() + " tensors match the base"
                + (spec.hasGram() ? ", " + spec.grams().size() + " Gram matrices fit its linear layers" : ""));
    }

    /** A linear layer's weight: 2-D and floating-point ({@code [out, in]}, PyTorch's layout). */
    static boolean isLinear(TensorInfo t) {
        return t.rank() == 2 && t.dtype().isFloatingPoint();
    }

    private void checkGrams(ProposalSpec spec, List<TensorInfo> base, Map<String, Integer> index) throws Rejection {
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (ProposalSpec.Gram g : spec.grams()) {
            TensorInfo t = g.info();
            String what = "Gram matrix '" + t.name() + "'";
            Integer at = index.get(t.name());
            if (at == null) {
                throw new Rejection("structure", what + " names no tensor of the base version");
            }
            TensorInfo w = base.get(at);
            if (!isLinear(w)) {
                throw new Rejection("structure", what + ": base tensor is " + w.dtype() + " " + w.shapeString()
                        + ", not a linear layer's weight [out, in]");
            }
            if (!seen.add(t.name())) {
                throw new Rejection("structure", what + " is listed twice");
            }
            if (t.dtype() != dev.merit.tensor.DType.F32 && t.dtype() != dev.merit.tensor.DType.F16) {
                throw new Rejection("structure", what + " is " + t.dtype() + ", must be F32 or F16");
            }
            long in = w.shape()[1];
            long[] s = t.shape();
            boolean packed = s.length == 1 && s[0] == in * (in + 1) / 2;
            boolean full = s.length == 2 && s[0] == in && s[1] == in;
            if (!packed && !full) {
                throw new Rejection("structure", what + " has shape " + t.shapeString() + "; the layer has " + in
                        + " inputs, so it must be [" + in * (in + 1) / 2 + "] (packed upper triangle) or [" + in + ", " + in + "]");
            }
            if (g.bytes() != t.byteSize() || g.bytes() > Integer.MAX_VALUE - 8) {
                throw new Rejection("structure", what + ": " + g.bytes() + " bytes declared for " + t.numel() + " "
                        + t.dtype() + " values (" + t.byteSize() + " bytes)");
            }
        }
        if (spec.gramExamples() < 0) {
            throw new Rejection("structure", "Gram example count " + spec.gramExamples() + " is negative");
        }
        if (config.requireGram()) {
            for (TensorInfo w : base) {
                if (isLinear(w) && !seen.contains(w.name())) {
                    throw new Rejection("structure", "this coordinator merges with regmean: push with the Gram matrix of every"
                            + " linear layer (merit train --regmean); '" + w.name() + "' has none");
                }
            }
        }
    }
}
