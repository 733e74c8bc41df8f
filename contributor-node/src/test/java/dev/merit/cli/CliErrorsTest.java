package dev.merit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.tensor.DType;
import dev.merit.testing.TestModels;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.DBOptions;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksIterator;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every error is one line on stderr with the documented exit code, and leaves the store as it was. */
class CliErrorsTest {

    @TempDir
    Path dir;

    CliRunner merit;

    @BeforeEach
    void setUp() {
        merit = new CliRunner(dir);
    }

    private void assertError(int code, String messagePart, String... args) {
        CliRunner.Result r = merit.run(args);
        assertEquals(code, r.exitCode(), r::toString);
        assertEquals(1, r.err().lines().count(), "one line on stderr: " + r.err());
        assertTrue(r.err().contains(messagePart), "stderr should mention '" + messagePart + "': " + r.err());
    }

    /** Every key and value of every column family, read with a read-only RocksDB: proves a failed command stored nothing. */
    private String storeSnapshot() throws Exception {
        String db = dir.resolve(".merit/db").toString();
        StringBuilder sb = new StringBuilder();
        List<ColumnFamilyDescriptor> cfs = new ArrayList<>();
        try (Options o = new Options()) {
            for (byte[] name : RocksDB.listColumnFamilies(o, db)) {
                cfs.add(new ColumnFamilyDescriptor(name));
            }
        }
        List<ColumnFamilyHandle> handles = new ArrayList<>();
        try (DBOptions o = new DBOptions(); RocksDB rdb = RocksDB.openReadOnly(o, db, cfs, handles)) {
            for (ColumnFamilyHandle h : handles) {
                sb.append("# ").append(new String(h.getName())).append('\n');
                try (RocksIterator it = rdb.newIterator(h)) {
                    for (it.seekToFirst(); it.isValid(); it.next()) {
                        sb.append(HexFormat.of().formatHex(it.key())).append('=').append(Arrays.hashCode(it.value())).append('\n');
                    }
                }
                h.close();
            }
        }
        return sb.toString();
    }

    @Test
    void notARepository() {
        assertError(3, "not a Merit repository", "log");
    }

    @Test
    void usageErrors() {
        TestModels.builder().tensor("w", DType.F32, 4).write(dir.resolve("m.safetensors"));
        assertEquals(2, merit.run("commit", "m.safetensors").exitCode(), "missing -m");
        assertEquals(2, merit.run("frobnicate").exitCode());
        assertEquals(2, merit.run("commit", "m.safetensors", "-m", "x", "--density", "0.1", "--threshold", "1").exitCode());
    }

    @Test
    void badInputsChangeNothing() throws Exception {
        Path good = TestModels.builder().tensor("w", DType.F32, 64, 8).write(dir.resolve("good.safetensors"));
        assertEquals(0, merit.run("init", "--from", "good.safetensors").exitCode());
        String before = storeSnapshot();
        String head = merit.run("log", "--oneline").out();

        // A hostile file: header length far past the end of the file.
        Path bad = dir.resolve("bad.safetensors");
        Files.write(bad, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40).array());
        assertError(4, "bad.safetensors", "commit", "bad.safetensors", "-m", "x");
        assertError(4, "header length", "status", "bad.safetensors");
        assertError(3, "missing.safetensors", "commit", "missing.safetensors", "-m", "x");
        assertError(3, "unknown revision 'nope'", "checkout", "nope", "-o", "o.safetensors");
        assertError(3, "HEAD~5", "show", "HEAD~5");
        assertError(3, "other.safetensors: no such file", "diff", "HEAD", "other.safetensors");
        assertError(4, "--density must be in (0, 1]", "commit", "good.safetensors", "-m", "x", "--density", "2");
        Path fisher = TestModels.builder().tensor("w", DType.F32, 8, 64).write(dir.resolve("fisher.safetensors"));
        assertError(4, "Fisher tensor 'w'", "commit", "good.safetensors", "-m", "x", "--fisher", "fisher.safetensors");
        assertError(4, "already exists", "init");
        assertError(4, "invalid branch name", "branch", "bad..name");
        assertError(2, "Unknown option", "branch", "-bad");

        assertEquals(before, storeSnapshot(), "the store is unchanged");
        assertEquals(head, merit.run("log", "--oneline").out());
        assertTrue(Files.notExists(dir.resolve("o.safetensors")));
    }

    @Test
    void badFileToInitCreatesNoRepository() throws Exception {
        Files.writeString(dir.resolve("junk.safetensors"), "not a model at all");
        CliRunner.Result r = merit.run("init", "--from", "junk.safetensors");
        assertEquals(4, r.exitCode(), r::toString);
        assertTrue(Files.notExists(dir.resolve(".merit")));
    }
}
