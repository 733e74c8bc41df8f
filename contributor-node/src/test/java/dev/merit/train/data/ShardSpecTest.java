package dev.merit.train.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.error.InvalidInputException;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ShardSpecTest {

    private static final ImageSet TRAIN = DataDir.bundled().train();

    private static Set<Integer> set(Examples e) {
        Set<Integer> s = new HashSet<>();
        Arrays.stream(e.indices()).forEach(s::add);
        return s;
    }

    @Test
    void iidPartsPartitionEverythingButTheValidationSplit() {
        Set<Integer> val = set(ShardSpec.validation(TRAIN));
        assertEquals(1000, val.size());
        Set<Integer> all = new HashSet<>();
        for (int i = 0; i < 4; i++) {
            Examples part = ShardSpec.parse("iid:4:" + i).select(TRAIN, 9);
            Set<Integer> p = set(part);
            assertEquals(part.size(), p.size());
            p.forEach(x -> assertTrue(!val.contains(x), "validation example " + x + " in a shard"));
            int before = all.size();
            all.addAll(p);
            assertEquals(before + p.size(), all.size(), "iid parts overlap");
        }
        assertEquals(TRAIN.size() - val.size(), all.size());
    }

    @Test
    void dirichletIsReproducibleSkewedAndDisjoint() {
        Examples a = ShardSpec.parse("dirichlet:0.1:5:2").select(TRAIN, 4);
        assertArrayEquals(a.indices(), ShardSpec.parse("dirichlet:0.1:5:2").select(TRAIN, 4).indices());
        int[] counts = a.classCounts();
        int max = Arrays.stream(counts).max().orElseThrow();
        assertTrue(max > 0.4 * a.size(), "alpha 0.1 should concentrate on few classes: " + Arrays.toString(counts));
        Set<Integer> total = new HashSet<>();
        int sum = 0;
        for (int i = 0; i < 5; i++) {
            Examples p = ShardSpec.parse("dirichlet:0.1:5:" + i).select(TRAIN, 4);
            total.addAll(set(p));
            sum += p.size();
        }
        assertEquals(sum, total.size());
        assertEquals(TRAIN.size() - 1000, sum);
    }

    @Test
    void classesShardsHoldOnlyTheirClasses() {
        int[] counts = ShardSpec.parse("classes:2:5:1").select(TRAIN, 0).classCounts();
        for (int c = 0; c < 10; c++) {
            assertEquals(c == 2 || c == 3, counts[c] > 0, "class " + c + ": " + Arrays.toString(counts));
        }
    }

    @Test
    void badSpecsAreRejectedWithTheSpec() {
        var e = assertThrows(InvalidInputException.class, () -> ShardSpec.parse("iid:4:4"));
        assertTrue(e.getMessage().contains("iid:4:4"));
        assertThrows(InvalidInputException.class, () -> ShardSpec.parse("dirichlet:0:4:1"));
        assertThrows(InvalidInputException.class, () -> ShardSpec.parse("whatever"));
    }
}
