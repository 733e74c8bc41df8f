package dev.merit.merge;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.util.List;

/**
 * Statistics of the inputs' changes against the base, for review ({@code merit merge --explain},
 * the review page). Computed on the raw changes, before clipping, trimming or dropping. The
 * support of a change is where it is non-zero.
 *
 * @param inputs  input labels, in order; pair and array indices refer to this list
 * @param overall the statistics over every merged (floating-point) tensor at once
 * @param tensors one entry per merged tensor, in output order
 */
public record MergeStatistics(List<String> inputs, TensorStatistics overall, List<TensorStatistics> tensors) {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public MergeStatistics {
        inputs = List.copyOf(inputs);
        tensors = List.copyOf(tensors);
    }

    /** The statistics as indented JSON. */
    public String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * @param tensor  the tensor's name, or {@code "*"} for the overall entry
     * @param numel   entries covered
     * @param support per input, entries where its change is non-zero
     * @param norms   per input, the L2 norm of its change
     * @param pairs   one entry per pair of inputs (a &lt; b)
     */
    public record TensorStatistics(String tensor, long numel, List<Long> support, List<Double> norms, List<PairStatistics> pairs) {
        public TensorStatistics {
            support = List.copyOf(support);
            norms = List.copyOf(norms);
            pairs = List.copyOf(pairs);
        }
    }

    /**
     * @param a              first input index
     * @param b              second input index
     * @param overlap        entries in both supports
     * @param signAgreements entries of the overlap where both changes have the same sign
     * @param signAgreement  {@code signAgreements / overlap}, or NaN for an empty overlap
     * @param cosine         cosine between the two changes, or NaN if either is zero
     */
    public record PairStatistics(int a, int b, long overlap, long signAgreements, double signAgreement, double cosine) {}
}
