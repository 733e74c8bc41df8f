package dev.merit.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.merit.codec.ValueCoding;
import dev.merit.error.InvalidInputException;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.testing.TestModels;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A commit's provenance read as typed fields: from a real commit, and from provenance as earlier versions wrote it. */
class CommitProvenanceTest {

    @TempDir
    Path dir;

    @Test
    void aLossyCommitsSelectionAndDeltaCostsReadAsTypedFields() {
        Path v0 = TestModels.builder().seed(4).tensor("w", DType.F32, 100, 50).write(dir.resolve("v0.safetensors"));
        Path v1 = TestModels.perturb(v0, dir.resolve("v1.safetensors"), 0.1, 5);
        try (Repository repo = Repository.init(dir.resolve("repo"));
             SafetensorsFile f0 = SafetensorsFile.open(v0); SafetensorsFile f1 = SafetensorsFile.open(v1)) {
            repo.commit().setSource(f0).setMessage("v0").call();
            CommitResult r = repo.commit().setSource(f1).setMessage("top 1%").setSelection(Selection.density(0.01))
                    .setValueCoding(ValueCoding.FP16).call();
            CommitProvenance p = CommitProvenance.of(r.commit());
            CommitProvenance.Selection sel = p.selection().orElseThrow();
            assertEquals(50, sel.keptEntries(), "1% of 5000 entries");
            assertTrue(sel.keptNormFraction().isPresent() && sel.keptNormFraction().getAsDouble() > 0
                    && sel.keptNormFraction().getAsDouble() < 1, sel.toString());
            assertEquals(Optional.of("fp16"), sel.values());
            CommitProvenance.Deltas d = p.deltas().orElseThrow();
            assertEquals(50, d.changedEntries());
            assertEquals(5000L * 4, d.denseF32Bytes());
            assertEquals(r.commit().provenance().path("selection").path("mode").asText(), sel.mode());
            assertEquals(0, p.fisherBytes(), "no Fisher");
            assertTrue(p.java().isPresent() && p.tool().orElseThrow().startsWith("merit "));
        }
    }

    @Test
    void provenanceWithoutAFormatFieldAsEarlierVersionsWroteItStillReads() throws Exception {
        JsonNode old = RecordJson.MAPPER.readTree("""
                {"tool":"merit 0.1.0","java":"25","os":"Linux amd64","source":"m.safetensors",
                 "selection":{"mode":"lossless","kept_entries":7},
                 "deltas":{"tensors":1,"changed_entries":7,"encoded_bytes":40,"dense_f32_bytes":400,"position_bits":21,
                           "value_bits":224,"position_bits_per_entry":3.0,"value_bits_per_entry":32.0},
                 "merge":{"strategy":"fisher"}}""");
        CommitProvenance p = CommitProvenance.of(old);
        assertEquals("lossless", p.selection().orElseThrow().mode());
        assertTrue(p.selection().orElseThrow().keptNormFraction().isEmpty());
        assertEquals(40, p.deltas().orElseThrow().encodedBytes());

        JsonNode bare = RecordJson.MAPPER.readTree("{}");
        assertTrue(CommitProvenance.of(bare).selection().isEmpty(), "sections a commit lacks are empty");

        JsonNode future = RecordJson.MAPPER.readTree("{\"format\":3}");
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> CommitProvenance.of(future));
        assertEquals("commit provenance has format 3; this Merit reads format 1", e.getMessage());
    }
}
