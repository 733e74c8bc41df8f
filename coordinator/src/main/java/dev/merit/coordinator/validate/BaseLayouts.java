package dev.merit.coordinator.validate;

import dev.merit.tensor.TensorInfo;
import dev.merit.wire.ProposalSpec;
import java.util.List;

/** The tensors of the version a proposal was computed against. */
@FunctionalInterface
public interface BaseLayouts {

    /** The base's layout, or a {@link Rejection} if the coordinator does not know the base. */
    List<TensorInfo> of(ProposalSpec spec) throws Rejection;
}
