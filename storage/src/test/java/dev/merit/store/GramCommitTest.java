package dev.merit.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.error.InvalidInputException;
import dev.merit.safetensors.Safetensors;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GramCommitTest {

    @TempDir
    Path dir;

    private Path write(String name, Map<String, String> md, TensorInfo t, float base) {
        Path p = dir.resolve(name);
        try (SafetensorsWriter w = SafetensorsWriter.create(p, List.of(t), md)) {
            for (long i = 0; i < t.numel(); i++) {
                t.dtype().setFloat(w.segment(t.name()), i, base + i);
            }
            w.finish();
        }
        return p;
    }

    @Test
    void gramMatricesAreStoredReadBackTransferredAndKeptByGc() {
        Path model = write("m.safetensors", Map.of(), TensorInfo.of("1.weight", DType.F32, 3, 4), 0f);
        Path gram = write("g.safetensors", Map.of("merit.gram", "packed-upper", "merit.gram.examples", "7"),
                TensorInfo.of("1.weight", DType.F32, 10), 100f);
        ObjectId id;
        try (Repository repo = Repository.init(dir.resolve("a"));
             TensorSource m = Safetensors.open(model); TensorSource g = Safetensors.open(gram)) {
            CommitResult r = repo.commit().setSource(m).setGram(g).setMessage("with gram").call();
            id = r.id();
            assertTrue(r.commit().provenance().path("gram_bytes").asLong() >= 40);
            assertEquals(List.of(r.commit().manifest(), r.commit().gram().orElseThrow()), r.commit().manifests());
            try (TensorSource back = repo.openGram(id).orElseThrow()) {
                assertEquals("7", back.metadata().get("merit.gram.examples"));
                assertEquals(109f, DType.F32.getFloat(back.data("1.weight"), 9));
            }
            repo.gc();
            assertTrue(repo.fsck(ProgressListener.NONE).problems().isEmpty());
            try (TensorSource back = repo.openGram(id).orElseThrow()) {
                assertEquals(100f, DType.F32.getFloat(back.data("1.weight"), 0));
            }
            try (Repository b = Repository.init(dir.resolve("b"))) {
                for (var e : repo.missingObjects(id, List.of())) {
                    b.importObject(e.getKey(), e.getValue(), repo.readObject(e.getKey(), e.getValue()).orElseThrow());
                }
                try (TensorSource back = b.openGram(id).orElseThrow()) {
                    assertEquals(105f, DType.F32.getFloat(back.data("1.weight"), 5));
                }
            }
        }
    }

    @Test
    void aFisherOnFewEntriesCostsAboutThoseEntriesAndReadsBackExactly() throws Exception {
        TensorInfo w = TensorInfo.of("w", DType.F32, 512, 512);
        Path model = write("m.safetensors", Map.of(), w, 0f);
        Path fisher = dir.resolve("f.safetensors");
        try (SafetensorsWriter out = SafetensorsWriter.create(fisher, List.of(w), Map.of())) {
            for (long i = 0; i < w.numel(); i += 97) {
                DType.F32.setFloat(out.segment("w"), i, 1e-3f * (i % 13 + 1));
            }
            out.finish();
        }
        try (Repository repo = Repository.init(dir.resolve("a"));
             TensorSource m = Safetensors.open(model); TensorSource f = Safetensors.open(fisher)) {
            repo.commit().setSource(m).setFisher(f).setMessage("first: stores the shared zero keyframe").call();
            CommitResult r = repo.commit().setSource(m).setFisher(f).setMessage("sparse fisher").call();
            long fisherBytes = r.commit().provenance().path("fisher_bytes").asLong();
            // 2,703 non-zero entries: about their values and positions, far below the dense 1 MiB
            assertTrue(fisherBytes < 40_000, "Fisher cost " + fisherBytes + " bytes");
            Path back = dir.resolve("back.safetensors");
            assertTrue(repo.checkoutFisher(r.id(), back));
            Tensors.assertSameTensors(fisher, back);
        }
    }

    @Test
    void aGramOfTheWrongSizeIsRefusedNamingTheTensor() {
        Path model = write("m.safetensors", Map.of(), TensorInfo.of("1.weight", DType.F32, 3, 4), 0f);
        Path gram = write("g.safetensors", Map.of("merit.gram", "packed-upper"), TensorInfo.of("1.weight", DType.F32, 16), 0f);
        try (Repository repo = Repository.init(dir.resolve("a"));
             TensorSource m = Safetensors.open(model); TensorSource g = Safetensors.open(gram)) {
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> repo.commit().setSource(m).setGram(g).setMessage("bad").call());
            assertTrue(e.getMessage().contains("'1.weight'") && e.getMessage().contains("[10]"), e.getMessage());
            assertTrue(repo.head().isEmpty());
        }
    }
}
