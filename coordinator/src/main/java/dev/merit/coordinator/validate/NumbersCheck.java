package dev.merit.coordinator.validate;

import dev.merit.tensor.TensorInfo;
import dev.merit.wire.ProposalSpec;
import java.util.List;

/** The whole change's L2 norm and density within bounds (each value was checked finite while streaming). */
public final class NumbersCheck implements PayloadValidator {

    private final BaseLayouts layouts;
    private final ValidationConfig config;

    public NumbersCheck(BaseLayouts layouts, ValidationConfig config) {
        this.layouts = layouts;
        this.config = config;
    }

    /** Changed entries over the base's parameter count. */
    public static double density(Ingest.Summary sum, List<TensorInfo> base) {
        long params = base.stream().mapToLong(TensorInfo::numel).sum();
        return params == 0 ? 0 : (double) sum.entries() / params;
    }

    @Override
    public CheckResult check(ProposalSpec spec, Ingest.Summary sum, Payload payload) throws Rejection {
        List<TensorInfo> base = layouts.of(spec);
        double density = density(sum, base);
        if (sum.totalNorm() > config.maxTotalNorm()) {
            throw new Rejection("numbers", String.format("L2 norm of the whole change %.6g exceeds the limit %.6g", sum.totalNorm(), config.maxTotalNorm()));
        }
        if (density < config.minDensity() || density > config.maxDensity()) {
            long params = base.stream().mapToLong(TensorInfo::numel).sum();
            throw new Rejection("numbers", String.format("density %.6g (%d of %d entries) is outside [%.6g, %.6g]",
                    density, sum.entries(), params, config.minDensity(), config.maxDensity()));
        }
        return CheckResult.pass("numbers", String.format("finite; L2 norm %.6g; density %.6g", sum.totalNorm(), density));
    }
}
