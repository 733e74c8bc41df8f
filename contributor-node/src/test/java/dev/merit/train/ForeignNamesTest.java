package dev.merit.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.safetensors.Safetensors;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.store.Repository;
import dev.merit.tensor.TensorSource;
import dev.merit.train.data.ShardSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ForeignNamesTest {

    @TempDir
    Path dir;

    /** Another framework's MLP: names out of order, nested prefixes; the shapes say the order. */
    private MemoryTensors foreign() {
        try (MemoryTensors spec = ModelSpec.parse("mlp:784-48-24-10").initialize(3)) {
            MemoryTensors m = new MemoryTensors(Map.of(), "foreign");
            String[][] names = {{"3.weight", "3.bias"}, {"0.0.weight", "0.0.bias"}, {"head.weight", "head.bias"}};
            // store layer 2 first, then layer 1, then layer 3, under names that sort differently
            int[] order = {1, 0, 2};
            String[] specNames = {"0", "2", "4"};
            for (int k : order) {
                String[] n = names[k];
                for (String part : List.of("weight", "bias")) {
                    var t = spec.info(specNames[k] + "." + part).orElseThrow();
                    var seg = m.add(t.withName(part.equals("weight") ? n[0] : n[1]));
                    seg.copyFrom(spec.data(t.name()));
                }
            }
            return m;
        }
    }

    @Test
    void layerOrderComesFromShapes() {
        try (MemoryTensors m = foreign()) {
            Network net = Network.of(m, Optional.empty());
            assertEquals(List.of("3.weight", "0.0.weight", "head.weight"),
                    net.linearLayers().stream().map(Network.LinearLayer::weight).toList());
            assertEquals("mlp:784-48-24-10", net.spec().text());
        }
    }

    @Test
    void aForeignCheckpointTrainsAsIs() {
        Path file = dir.resolve("foreign.safetensors");
        try (MemoryTensors m = foreign()) {
            SafetensorsWriter.write(m, file);
        }
        try (Repository repo = Repository.init(dir.resolve("repo"));
             TensorSource src = Safetensors.open(file)) {
            repo.commit().setSource(src).setMessage("import").call();
            TrainResult r = TrainRound.on(repo).setData(ShardSpec.parse("iid:4:2").select(TrainData.train(), 0))
                    .setSteps(30).setDensity(0.01).setFisherSamples(32).setMessage("train foreign").call();
            assertTrue(r.changedEntries() > 0);
            try (TensorSource after = repo.openVersion(r.commit())) {
                assertEquals(List.of("0.0.weight", "0.0.bias", "3.weight", "3.bias", "head.weight", "head.bias"),
                        after.tensors().stream().map(t -> t.name()).toList());
            }
        }
    }
}
