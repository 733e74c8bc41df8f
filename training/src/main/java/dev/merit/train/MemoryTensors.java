package dev.merit.train;

import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Tensors held off the Java heap in a shared arena (so the store's parallel commit may read them
 * from any thread), in insertion order; closing frees them.
 */
public final class MemoryTensors implements TensorSource {

    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Arena arena = Arena.ofShared();
    private final Map<String, TensorInfo> infos = new LinkedHashMap<>();
    private final Map<String, MemorySegment> data = new LinkedHashMap<>();
    private final Map<String, String> metadata;
    private final String description;

    public MemoryTensors(Map<String, String> metadata, String description) {
        this.metadata = Map.copyOf(metadata);
        this.description = description;
    }

    /** Adds a zero-filled tensor and returns its bytes to fill in. */
    public MemorySegment add(TensorInfo info) {
        MemorySegment seg = arena.allocate(Math.max(1, info.byteSize()), 8).asSlice(0, info.byteSize());
        infos.put(info.name(), info);
        data.put(info.name(), seg);
        return seg;
    }

    /** Adds a float32 tensor. */
    public MemorySegment addF32(String name, long... shape) {
        return add(TensorInfo.of(name, DType.F32, shape));
    }

    /** A copy of every tensor of {@code source}. */
    public static MemoryTensors copyOf(TensorSource source) {
        MemoryTensors m = new MemoryTensors(source.metadata(), source.describe());
        for (TensorInfo t : source.tensors()) {
            MemorySegment.copy(source.data(t.name()), 0, m.add(t), 0, t.byteSize());
        }
        return m;
    }

    @Override
    public List<TensorInfo> tensors() {
        return new ArrayList<>(infos.values());
    }

    @Override
    public Optional<TensorInfo> info(String name) {
        return Optional.ofNullable(infos.get(name));
    }

    @Override
    public MemorySegment data(String name) {
        MemorySegment s = data.get(name);
        if (s == null) {
            throw new IllegalArgumentException(description + ": no tensor '" + name + "'");
        }
        return s;
    }

    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
