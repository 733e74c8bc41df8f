package dev.merit.tensor;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A read-only set of named tensors, such as a safetensors file, a sharded checkpoint or a
 * materialized version from the store. Tensor data is handed out as memory segments that stay
 * valid until the source is closed; implementations map or load lazily, so asking for one
 * tensor touches only that tensor's bytes.
 */
public interface TensorSource extends AutoCloseable {

    /** The tensors, in the source's order. */
    List<TensorInfo> tensors();

    Optional<TensorInfo> info(String name);

    /** The tensor's bytes (little-endian, {@code info.byteSize()} long). */
    MemorySegment data(String name);

    /** Free-form string metadata ({@code __metadata__} in safetensors). */
    Map<String, String> metadata();

    /** Where the tensors come from, for messages: a path, or a revision. */
    String describe();

    @Override
    void close();
}
