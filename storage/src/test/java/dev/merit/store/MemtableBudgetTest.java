package dev.merit.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A long-running coordinator writes to several column families, none of which reaches its own
 * write-buffer size for a long time: memtables over all families must stay within one budget, not
 * grow to a write buffer per family (the load harness saw the resident size climb this way).
 */
class MemtableBudgetTest {

    @TempDir
    Path dir;

    @Test
    void memtablesOfAllFamiliesStayWithinOneBudget() {
        RocksStore.Table[] tables = {RocksStore.Table.REFLOG, RocksStore.Table.SIZES, RocksStore.Table.META,
            RocksStore.Table.RECORDS, RocksStore.Table.OUTBOX};
        long perTable = 50L << 20; // each under a family's own 64 MiB write buffer; all five twice the budget
        byte[] value = new byte[256 << 10];
        Random random = new Random(5);
        long peak = 0;
        try (RocksStore store = RocksStore.open(dir)) {
            for (int i = 0; (long) i * value.length < perTable * tables.length; i++) {
                random.nextBytes(value);
                try (RocksStore.Batch b = store.newBatch()) {
                    b.put(tables[i % tables.length], ("k" + i).getBytes(StandardCharsets.US_ASCII), value);
                    store.write(b, false);
                }
                peak = Math.max(peak, store.memtableBytes());
            }
            long budget = RocksStore.MEMTABLE_BUDGET_BYTES;
            assertTrue(peak <= budget + budget / 4, "memtables reached " + (peak >> 20) + " MiB for a budget of "
                    + (budget >> 20) + " MiB");
            // What was flushed to make room reads back as written.
            random = new Random(5);
            random.nextBytes(value);
            assertArrayEquals(value, store.get(tables[0], "k0".getBytes(StandardCharsets.US_ASCII)));
        }
    }
}
