package dev.merit.cli;

import dev.merit.safetensors.Safetensors;
import dev.merit.store.Repository;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Opens what a user names as a model: a safetensors file (or sharded index) or a revision. */
final class Sources {

    private Sources() {}

    static TensorSource open(Repository repo, Path workDir, String arg) {
        Path p = workDir.resolve(arg).normalize();
        if (Files.isRegularFile(p)) {
            return Safetensors.open(p);
        }
        if (arg.endsWith(".safetensors") || arg.endsWith(".json")) {
            throw new dev.merit.error.NotFoundException(arg + ": no such file");
        }
        return repo.openVersion(repo.resolve(arg));
    }

    static TensorSource empty() {
        return new TensorSource() {
            @Override
            public List<TensorInfo> tensors() {
                return List.of();
            }

            @Override
            public Optional<TensorInfo> info(String name) {
                return Optional.empty();
            }

            @Override
            public MemorySegment data(String name) {
                throw new IllegalArgumentException(name);
            }

            @Override
            public Map<String, String> metadata() {
                return Map.of();
            }

            @Override
            public String describe() {
                return "(empty)";
            }

            @Override
            public void close() {}
        };
    }
}
