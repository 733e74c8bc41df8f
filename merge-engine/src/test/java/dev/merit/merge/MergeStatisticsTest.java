package dev.merit.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Statistics against direct loops over the changes, per tensor and overall. */
class MergeStatisticsTest {

    @TempDir
    Path dir;

    @Test
    void statisticsMatchDirectComputation() throws Exception {
        List<TensorInfo> layout = MergeFixtures.layout(DType.F32);
        Path base = MergeFixtures.model(dir.resolve("base.safetensors"), layout, 1);
        Path[] m = new Path[3];
        for (int i = 0; i < 3; i++) {
            m[i] = MergeFixtures.perturbed(base, dir.resolve("m" + i + ".safetensors"), 0.3 + 0.2 * i, 5 + i);
        }
        MergeResult r;
        try (TensorSource b = SafetensorsFile.open(base); TensorSource a = SafetensorsFile.open(m[0]);
             TensorSource c = SafetensorsFile.open(m[1]); TensorSource d = SafetensorsFile.open(m[2])) {
            r = Merger.builder().base(b).input(MergeInput.model("a", a)).input(MergeInput.model("c", c))
                    .input(MergeInput.model("d", d)).strategy(Strategy.AVERAGE).statistics(true).blockSize(3000)
                    .build().mergeTo(dir.resolve("out.safetensors"));
        }
        MergeStatistics s = r.statistics().orElseThrow();
        assertEquals(List.of("a", "c", "d"), s.inputs());
        assertEquals(3, s.tensors().size(), "the integer tensor is not a merged tensor");
        double[] allSq = new double[3];
        double[] allDot = new double[3];
        long[] allOv = new long[3];
        long[] allAg = new long[3];
        for (MergeStatistics.TensorStatistics t : s.tensors()) {
            float[] bv = MergeFixtures.read(base, t.tensor());
            float[][] dv = new float[3][];
            for (int i = 0; i < 3; i++) {
                float[] mv = MergeFixtures.read(m[i], t.tensor());
                dv[i] = new float[bv.length];
                for (int j = 0; j < bv.length; j++) {
                    dv[i][j] = mv[j] - bv[j];
                }
            }
            assertEquals(bv.length, t.numel());
            double[] sq = new double[3];
            for (int i = 0; i < 3; i++) {
                long sup = 0;
                for (float x : dv[i]) {
                    sq[i] += (double) x * x;
                    sup += x != 0 ? 1 : 0;
                }
                allSq[i] += sq[i];
                assertEquals(sup, t.support().get(i), t.tensor() + " support " + i);
                assertEquals(Math.sqrt(sq[i]), t.norms().get(i), 1e-9 * Math.sqrt(sq[i]) + 1e-12);
            }
            int p = 0;
            for (int i = 0; i < 3; i++) {
                for (int k = i + 1; k < 3; k++, p++) {
                    double dot = 0;
                    long ov = 0;
                    long ag = 0;
                    for (int j = 0; j < bv.length; j++) {
                        dot += (double) dv[i][j] * dv[k][j];
                        if (dv[i][j] != 0 && dv[k][j] != 0) {
                            ov++;
                            ag += Math.signum(dv[i][j]) == Math.signum(dv[k][j]) ? 1 : 0;
                        }
                    }
                    allDot[p] += dot;
                    allOv[p] += ov;
                    allAg[p] += ag;
                    MergeStatistics.PairStatistics ps = t.pairs().get(p);
                    assertEquals(i, ps.a());
                    assertEquals(k, ps.b());
                    assertEquals(ov, ps.overlap());
                    assertEquals(ag, ps.signAgreements());
                    assertEquals((double) ag / ov, ps.signAgreement(), 1e-12);
                    assertEquals(dot / Math.sqrt(sq[i] * sq[k]), ps.cosine(), 1e-9);
                }
            }
        }
        MergeStatistics.TensorStatistics o = s.overall();
        assertEquals("*", o.tensor());
        for (int i = 0; i < 3; i++) {
            assertEquals(Math.sqrt(allSq[i]), o.norms().get(i), 1e-9);
        }
        assertEquals(allOv[2], o.pairs().get(2).overlap());
        assertEquals(allAg[0], o.pairs().get(0).signAgreements());
        assertEquals(allDot[1] / Math.sqrt(allSq[0] * allSq[2]), o.pairs().get(1).cosine(), 1e-9);
        assertTrue(o.pairs().get(0).overlap() > 0);

        JsonNode json = new ObjectMapper().readTree(s.toJson());
        assertEquals("a", json.at("/inputs/0").asText());
        assertEquals(allOv[2], json.at("/overall/pairs/2/overlap").asLong());
        assertEquals("b.weight", json.at("/tensors/2/tensor").asText());
    }

    @Test
    void noStatisticsUnlessAsked() {
        Path base = MergeFixtures.model(dir.resolve("b.safetensors"), MergeFixtures.layout(DType.F32), 3);
        try (TensorSource b = SafetensorsFile.open(base)) {
            MergeResult r = Merger.builder().input(MergeInput.model("b", b)).build().mergeTo(dir.resolve("o.safetensors"));
            assertTrue(r.statistics().isEmpty());
        }
    }
}
