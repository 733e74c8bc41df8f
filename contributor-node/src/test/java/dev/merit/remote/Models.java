package dev.merit.remote;

import dev.merit.safetensors.SafetensorsFile;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.SplittableRandom;

/** Test models for coordinator tests: sparse fine-tunes of floating-point tensors only, and positive Fishers. */
public final class Models {

    private Models() {}

    /** {@code src} with N(0, 0.05) added to a random {@code fraction} of each floating-point tensor's entries. */
    public static Path sparseTune(Path src, Path dst, double fraction, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        try (SafetensorsFile in = SafetensorsFile.open(src);
             SafetensorsWriter w = SafetensorsWriter.create(dst, in.tensors(), in.metadata())) {
            for (TensorInfo t : in.tensors()) {
                MemorySegment out = w.segment(t.name());
                MemorySegment.copy(in.data(t.name()), 0, out, 0, t.byteSize());
                if (!t.dtype().isFloatingPoint()) {
                    continue;
                }
                for (long i = 0; i < t.numel(); i++) {
                    if (rnd.nextDouble() < fraction) {
                        t.dtype().setDouble(out, i, t.dtype().getDouble(out, i) + 0.05 * rnd.nextGaussian() + 0.01);
                    }
                }
            }
            w.finish();
        }
        return dst;
    }

    /** A Fisher for {@code model}'s layout: F32 values in [0.1, 2.1). */
    public static Path fisher(Path model, Path dst, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        try (SafetensorsFile in = SafetensorsFile.open(model)) {
            var layout = in.tensors().stream().map(t -> new TensorInfo(t.name(), dev.merit.tensor.DType.F32, t.shape())).toList();
            try (SafetensorsWriter w = SafetensorsWriter.create(dst, layout, java.util.Map.of())) {
                for (TensorInfo t : layout) {
                    MemorySegment out = w.segment(t.name());
                    for (long i = 0; i < t.numel(); i++) {
                        t.dtype().setDouble(out, i, 0.1 + 2 * rnd.nextDouble());
                    }
                }
                w.finish();
            }
        }
        return dst;
    }
}
