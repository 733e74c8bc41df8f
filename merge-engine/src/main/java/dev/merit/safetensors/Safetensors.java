package dev.merit.safetensors;

import dev.merit.tensor.TensorSource;
import java.nio.file.Path;

/** Entry point for reading weights users bring: a single file or a sharded checkpoint's index. */
public final class Safetensors {

    private Safetensors() {}

    /** Opens {@code path} as a sharded checkpoint if it names a {@code *.safetensors.index.json}, else as one file. */
    public static TensorSource open(Path path) {
        if (path.getFileName() != null && path.getFileName().toString().endsWith(".index.json")) {
            return ShardedSafetensors.open(path);
        }
        return SafetensorsFile.open(path);
    }
}
