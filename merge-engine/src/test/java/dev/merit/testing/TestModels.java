package dev.merit.testing;

import dev.merit.safetensors.SafetensorsFile;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Fluent builder for small safetensors models used as test fixtures, shared with other modules
 * through the merge-engine test jar:
 * <pre>{@code
 * Path base = TestModels.builder().seed(1).tensor("w", DType.F32, 64, 32).write(dir.resolve("base.safetensors"));
 * Path next = TestModels.perturb(base, dir.resolve("next.safetensors"), 0.01, 7);
 * }</pre>
 */
public final class TestModels {

    private final List<TensorInfo> layout = new ArrayList<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private long seed = 42;

    private TestModels() {}

    public static TestModels builder() {
        return new TestModels();
    }

    public TestModels seed(long seed) {
        this.seed = seed;
        return this;
    }

    public TestModels tensor(String name, DType dtype, long... shape) {
        layout.add(new TensorInfo(name, dtype, shape));
        return this;
    }

    public TestModels metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** Writes the model with values ~ N(0, 1) (integers: uniform over a small range; BOOL: 0/1). */
    public Path write(Path path) {
        SplittableRandom rnd = new SplittableRandom(seed);
        try (SafetensorsWriter w = SafetensorsWriter.create(path, layout, metadata)) {
            for (TensorInfo t : layout) {
                MemorySegment seg = w.segment(t.name());
                long n = t.numel();
                for (long i = 0; i < n; i++) {
                    t.dtype().setDouble(seg, i, randomValue(t.dtype(), rnd));
                }
            }
            w.finish();
        }
        return path;
    }

    static double randomValue(DType dtype, SplittableRandom rnd) {
        return switch (dtype) {
            case F64, F32, F16, BF16 -> gaussian(rnd);
            case BOOL -> rnd.nextInt(2);
            case U8 -> rnd.nextInt(256);
            case I8 -> rnd.nextInt(-128, 128);
            default -> rnd.nextInt(-1000, 1000);
        };
    }

    static double gaussian(SplittableRandom rnd) {
        double u = rnd.nextDouble(), v = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
    }

    /**
     * Copies {@code src} to {@code dst}, adding N(0, 0.1) noise to a random {@code fraction} of
     * the entries of every floating-point tensor (integer tensors get +1). Returns {@code dst}.
     */
    public static Path perturb(Path src, Path dst, double fraction, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        try (SafetensorsFile in = SafetensorsFile.open(src);
             SafetensorsWriter w = SafetensorsWriter.create(dst, in.tensors(), in.metadata())) {
            for (TensorInfo t : in.tensors()) {
                MemorySegment out = w.segment(t.name());
                MemorySegment.copy(in.data(t.name()), 0, out, 0, t.byteSize());
                long n = t.numel();
                for (long i = 0; i < n; i++) {
                    if (rnd.nextDouble() < fraction) {
                        double v = t.dtype().getDouble(out, i);
                        double nv = t.dtype().isFloatingPoint() ? v + 0.1 * gaussian(rnd) + 1e-3 : v + 1;
                        t.dtype().setDouble(out, i, nv);
                    }
                }
            }
            w.finish();
        }
        return dst;
    }
}
