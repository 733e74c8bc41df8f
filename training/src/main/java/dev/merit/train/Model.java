package dev.merit.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A network's parameters as DJL arrays owned by one {@link NDManager}; closing the model frees
 * them. Everything computed from them in a step lives in a sub-manager of {@link #manager()}
 * that the step closes, so native memory does not grow with the number of steps.
 */
public final class Model implements AutoCloseable {

    private final Network network;
    private final NDManager manager;
    private final Map<String, NDArray> params = new LinkedHashMap<>();
    private final List<TensorInfo> layout;
    private final Map<String, String> metadata;

    /** Loads {@code weights} (F32, names as {@code network} expects) onto {@code device}. */
    public Model(Network network, TensorSource weights, Device device) {
        this.network = network;
        this.manager = Engines.pytorch().newBaseManager(device);
        this.layout = weights.tensors();
        Map<String, String> md = new LinkedHashMap<>(weights.metadata());
        md.put(ModelSpec.METADATA_KEY, network.spec().text());
        this.metadata = Map.copyOf(md);
        for (TensorInfo t : layout) {
            params.put(t.name(), load(manager, weights.data(t.name()), t.shape()));
        }
    }

    /** A float32 array with its own native memory, holding a copy of {@code seg}. */
    static NDArray load(NDManager manager, MemorySegment seg, long[] shape) {
        ByteBuffer buf = ByteBuffer.allocateDirect((int) seg.byteSize()).order(ByteOrder.nativeOrder());
        MemorySegment.copy(seg, 0, MemorySegment.ofBuffer(buf), 0, seg.byteSize());
        try (NDManager tmp = manager.newSubManager()) {
            NDArray shared = tmp.create(buf, new Shape(shape), DataType.FLOAT32);
            NDArray owned = shared.duplicate();
            owned.attach(manager);
            return owned;
        }
    }

    public Network network() {
        return network;
    }

    public NDManager manager() {
        return manager;
    }

    /** The parameters by name, in the checkpoint's order. */
    public Map<String, NDArray> params() {
        return params;
    }

    public List<TensorInfo> layout() {
        return layout;
    }

    public long parameterCount() {
        return layout.stream().mapToLong(TensorInfo::numel).sum();
    }

    /** The parameters' current values, copied off the engine, with the model spec in the metadata. */
    public MemoryTensors snapshot(String description) {
        MemoryTensors out = new MemoryTensors(metadata, description);
        for (TensorInfo t : layout) {
            copyOut(params.get(t.name()), out.add(t));
        }
        return out;
    }

    static void copyOut(NDArray a, MemorySegment into) {
        ByteBuffer b = a.toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        MemorySegment.copy(MemorySegment.ofBuffer(b), 0, into, 0, into.byteSize());
    }

    @Override
    public void close() {
        manager.close();
    }
}
