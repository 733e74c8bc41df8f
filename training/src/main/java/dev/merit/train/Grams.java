package dev.merit.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.train.data.Examples;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * RegMean statistics (Jin et al.): for each linear layer, the Gram matrix G = XᵀX / N of its
 * inputs X ({@code [N, in]}) over a contributor's examples. The file format is the contract
 * with the merge engine's {@code regmean} strategy: one tensor per linear layer, named like the
 * layer's weight, holding G's upper triangle packed row by row (row i holds columns i..in-1;
 * {@code [in * (in + 1) / 2]}, F32 or F16), with {@code __metadata__} {@value #FORMAT_KEY} =
 * {@value #PACKED_UPPER} and {@value #EXAMPLES_KEY} = N.
 */
public final class Grams {

    public static final String FORMAT_KEY = "merit.gram";
    public static final String PACKED_UPPER = "packed-upper";
    public static final String EXAMPLES_KEY = "merit.gram.examples";

    private Grams() {}

    /** The Gram matrices of {@code model}'s linear layers over {@code examples}, packed, in {@code dtype} (F32 or F16). */
    public static MemoryTensors compute(Model model, Examples examples, DType dtype, int batch) {
        if (dtype != DType.F32 && dtype != DType.F16) {
            throw new IllegalArgumentException("Gram matrices are F32 or F16, not " + dtype);
        }
        Network net = model.network();
        try (NDManager acc = model.manager().newSubManager()) {
            Map<String, NDArray> sums = new LinkedHashMap<>();
            for (Network.LinearLayer l : net.linearLayers()) {
                sums.put(l.weight(), acc.zeros(new ai.djl.ndarray.types.Shape(l.in(), l.in())));
            }
            Batches batches = new Batches(examples, batch, 0, false);
            while (batches.hasNext()) {
                try (NDManager s = model.manager().newSubManager()) {
                    NDArray[] b = batches.next(s);
                    net.forward(model.params(), b[0], (layer, x) -> sums.get(layer.weight()).addi(x.transpose().dot(x)));
                }
            }
            MemoryTensors out = new MemoryTensors(Map.of(FORMAT_KEY, PACKED_UPPER, EXAMPLES_KEY, String.valueOf(examples.size()),
                    ModelSpec.METADATA_KEY, net.spec().text()), "Gram matrices of " + examples.description());
            float inv = 1f / examples.size();
            for (Network.LinearLayer l : net.linearLayers()) {
                int in = l.in();
                MemorySegment full = MemorySegment.ofBuffer(sums.get(l.weight()).muli(inv).toByteBuffer().order(ByteOrder.LITTLE_ENDIAN));
                MemorySegment packed = out.add(TensorInfo.of(l.weight(), dtype, (long) in * (in + 1) / 2));
                long at = 0;
                for (int i = 0; i < in; i++) {
                    for (int j = i; j < in; j++) {
                        dtype.setFloat(packed, at++, full.get(MemoryTensors.F32, ((long) i * in + j) * 4));
                    }
                }
            }
            return out;
        }
    }
}
