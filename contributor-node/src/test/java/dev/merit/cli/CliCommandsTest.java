package dev.merit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.testing.TestModels;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The git-like commands, run in-process against a real RocksDB store in a temp dir. */
class CliCommandsTest {

    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    CliRunner merit;
    Path base;
    Path tuned;

    @BeforeEach
    void models() {
        merit = new CliRunner(dir);
        base = TestModels.builder().seed(1).metadata("format", "pt")
                .tensor("a", DType.F32, 200, 100).tensor("b", DType.BF16, 300).tensor("c", DType.I32, 50)
                .write(dir.resolve("base.safetensors"));
        tuned = TestModels.perturb(base, dir.resolve("tuned.safetensors"), 0.1, 2);
    }

    private CliRunner.Result ok(String... args) {
        CliRunner.Result r = merit.run(args);
        assertEquals(0, r.exitCode(), () -> "merit " + String.join(" ", args) + "\n" + r);
        return r;
    }

    private JsonNode json(String... args) throws Exception {
        return JSON.readTree(ok(args).out());
    }

    interface EntryCheck {
        void check(String tensor, long index, double parent, double file, double version);
    }

    /** Visits every entry of every tensor with its value in the parent, the committed file and the checked-out version. */
    private static void forEachEntry(Path parent, Path file, Path version, EntryCheck check) {
        try (SafetensorsFile p = SafetensorsFile.open(parent); SafetensorsFile f = SafetensorsFile.open(file);
             SafetensorsFile v = SafetensorsFile.open(version)) {
            for (TensorInfo t : f.tensors()) {
                for (long i = 0; i < t.numel(); i++) {
                    check.check(t.name(), i, t.dtype().getDouble(p.data(t.name()), i), t.dtype().getDouble(f.data(t.name()), i),
                            t.dtype().getDouble(v.data(t.name()), i));
                }
            }
        }
    }

    @Test
    void losslessCommitChecksOutExactly() throws Exception {
        ok("init", "--from", "base.safetensors");
        CliRunner.Result st = ok("status", "tuned.safetensors");
        assertTrue(st.out().contains("total:"), st.out());
        JsonNode status = json("status", "tuned.safetensors", "--json");
        assertFalse(status.path("identical").asBoolean());
        assertTrue(status.path("total").path("changed_entries").asLong() > 0);

        CliRunner.Result c = ok("commit", "tuned.safetensors", "-m", "tuned");
        assertTrue(c.out().startsWith("[main "), c.out());
        ok("checkout", "HEAD", "-o", "out.safetensors");
        JsonNode d = json("diff", "HEAD", "tuned.safetensors", "--json");
        assertTrue(d.path("identical").asBoolean(), d.toString());
        assertEquals(0, d.path("total").path("changed_entries").asLong());
        JsonNode back = json("diff", "HEAD~1", "base.safetensors", "--json");
        assertTrue(back.path("identical").asBoolean());
        try (SafetensorsFile a = SafetensorsFile.open(tuned); SafetensorsFile b = SafetensorsFile.open(dir.resolve("out.safetensors"))) {
            assertEquals(a.metadata(), b.metadata());
            for (TensorInfo t : a.tensors()) {
                assertEquals(-1, MemorySegment.mismatch(a.data(t.name()), 0, t.byteSize(), b.data(t.name()), 0, t.byteSize()));
            }
        }
    }

    @Test
    void densityCommitEqualsParentPlusKeptEntries() throws Exception {
        ok("init", "--from", "base.safetensors");
        JsonNode c = json("commit", "tuned.safetensors", "--density", "0.01", "-m", "top 1%", "--json");
        long params = 200 * 100 + 300 + 50;
        long k = Math.round(0.01 * params);
        assertEquals(k, c.path("selection").path("kept_entries").asLong());
        double keptNorm = c.path("selection").path("kept_norm_fraction").asDouble();
        assertTrue(keptNorm > 0 && keptNorm < 1, "kept norm fraction " + keptNorm);
        ok("checkout", "HEAD", "-o", "out.safetensors");
        long[] fromFile = {0};
        double[] smallestKept = {Double.MAX_VALUE};
        double[] largestDropped = {0};
        forEachEntry(base, tuned, dir.resolve("out.safetensors"), (name, i, pv, fv, vv) -> {
            if (pv == fv) {
                assertEquals(pv, vv);
            } else if (vv == fv) {
                fromFile[0]++;
                smallestKept[0] = Math.min(smallestKept[0], Math.abs(fv - pv));
            } else {
                assertEquals(pv, vv, "entry " + i + " of " + name + " is neither parent nor file");
                largestDropped[0] = Math.max(largestDropped[0], Math.abs(fv - pv));
            }
        });
        assertEquals(k, fromFile[0]);
        assertTrue(smallestKept[0] >= largestDropped[0], "kept the largest changes: " + smallestKept[0] + " vs " + largestDropped[0]);
    }

    @Test
    void quantizedCommitReportsItsEncodingInShow() throws Exception {
        ok("init", "--from", "base.safetensors");
        ok("commit", "tuned.safetensors", "--density", "0.02", "--values", "int8", "-m", "int8 values");
        JsonNode show = json("show", "HEAD", "--json");
        JsonNode d = show.path("provenance").path("deltas");
        long entries = d.path("changed_entries").asLong();
        assertTrue(entries > 0, d.toString());
        assertTrue(d.path("value_bits_per_entry").asDouble() < 9.5, "int8 values plus block scales: " + d);
        assertTrue(d.path("position_bits_per_entry").asDouble() > 0, d.toString());
        assertTrue(d.path("encoded_bytes").asLong() * 20 < d.path("dense_f32_bytes").asLong(), d.toString());
        assertEquals("int8", show.path("provenance").path("selection").path("values").asText());
        assertTrue(ok("show", "HEAD").out().contains("bits per entry on positions"));
        CliRunner.Result bad = merit.run("commit", "tuned.safetensors", "--values", "fp8", "-m", "x");
        assertEquals(4, bad.exitCode(), bad::toString);
        assertTrue(bad.err().contains("--values"), bad.err());
    }

    @Test
    void thresholdCommitKeepsExactlyTheLargeChanges() throws Exception {
        ok("init", "--from", "base.safetensors");
        ok("commit", "tuned.safetensors", "--threshold", "0.1", "-m", "big changes");
        ok("checkout", "HEAD", "-o", "out.safetensors");
        forEachEntry(base, tuned, dir.resolve("out.safetensors"),
                (name, i, pv, fv, vv) -> assertEquals(Math.abs(fv - pv) > 0.1 ? fv : pv, vv, name + "[" + i + "]"));
    }

    @Test
    void logShowBranchTagAndSwitch() throws Exception {
        ok("init", "--from", "base.safetensors", "-m", "base");
        ok("commit", "tuned.safetensors", "-m", "tuned\n\nlonger body");
        String oneline = ok("log", "--oneline").out();
        assertEquals(2, oneline.lines().count(), oneline);
        assertTrue(oneline.lines().findFirst().orElseThrow().endsWith(" tuned"));
        JsonNode log = json("log", "--json");
        assertEquals(2, log.path("commits").size());
        String headId = log.path("commits").get(0).path("id").asText();
        JsonNode show = json("show", headId.substring(0, 8), "--json");
        assertEquals(headId, show.path("id").asText());
        assertTrue(show.path("added_bytes").asLong() > 0);
        assertTrue(show.path("added_bytes").asLong() < show.path("dense_bytes").asLong());
        assertTrue(show.path("changes").path("total").path("changed_entries").asLong() > 0);

        ok("tag", "v1", "HEAD~1");
        ok("branch", "exp", "v1");
        assertTrue(ok("branch").out().contains("* main"));
        ok("switch", "exp");
        assertTrue(ok("branch").out().contains("* exp"));
        assertEquals(1, ok("log", "--oneline").out().lines().count());
        ok("switch", "main");
        ok("branch", "-d", "exp");
        assertFalse(ok("branch").out().contains("exp"));
        assertTrue(ok("tag").out().startsWith("v1 "));
        assertTrue(ok("fsck").out().contains("ok"));
        assertTrue(ok("gc").out().startsWith("removed "));
    }
}
