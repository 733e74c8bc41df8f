package dev.merit.store;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.LRUCache;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteBufferManager;
import org.rocksdb.WriteOptions;

/**
 * The one class that talks to RocksDB. Column families: one per {@link ObjectKind}, plus
 * {@code refs}, {@code reflog} and {@code meta}. Every {@link RocksDBException} leaves this class
 * wrapped in a {@link StoreException} naming the database.
 */
final class RocksStore implements AutoCloseable {

    static {
        RocksDB.loadLibrary();
    }

    /**
     * SIZES maps every object id to its size, so existence checks never read tensor bytes;
     * RECORDS holds front ends' own rows (proposals, tokens); OUTBOX holds events not yet published.
     */
    enum Table { REFS, REFLOG, SIZES, META, RECORDS, OUTBOX }

    /** Values at least this large go to blob files, so compaction does not rewrite tensor bytes. */
    private static final long MIN_BLOB_BYTES = 4096;
    /** Memtable bytes over all column families before the largest is flushed. */
    static final long MEMTABLE_BUDGET_BYTES = 128L << 20;
    private static final long LOCK_WAIT_MILLIS = 30_000;

    private final Path dir;
    private final DBOptions dbOptions;
    private final LRUCache memtableCache;
    private final WriteBufferManager memtableBudget;
    private final List<ColumnFamilyOptions> cfOptions = new ArrayList<>();
    private final RocksDB db;
    private final List<ColumnFamilyHandle> handles = new ArrayList<>();
    private final Map<ObjectKind, ColumnFamilyHandle> objectFamilies = new EnumMap<>(ObjectKind.class);
    private final Map<Table, ColumnFamilyHandle> tables = new EnumMap<>(Table.class);
    private final WriteOptions syncWrite;
    private final WriteOptions asyncWrite;
    private final WriteOptions unloggedWrite;
    /**
     * Native handles must not be used after close (RocksDB would crash the JVM), so every call
     * holds the read side and {@link #close} the write side.
     */
    private final java.util.concurrent.locks.ReentrantReadWriteLock guard = new java.util.concurrent.locks.ReentrantReadWriteLock();
    private boolean closed;

    private void enter() {
        guard.readLock().lock();
        if (closed) {
            guard.readLock().unlock();
            throw new StoreException("store " + dir + " is closed");
        }
    }

    private void exit() {
        guard.readLock().unlock();
    }

    private RocksStore(Path dir, boolean readOnly) throws RocksDBException, InterruptedException {
        this.dir = dir;
        // One budget for the memtables of all column families: each family's own 64 MiB write buffer
        // would otherwise fill slowly with small records and never flush, and a long-running
        // coordinator's resident size would climb by up to a write buffer per family. Over the
        // budget, writes wait for a flush (a hard bound) rather than growing past it.
        this.memtableCache = new LRUCache(2 * MEMTABLE_BUDGET_BYTES);
        this.memtableBudget = new WriteBufferManager(MEMTABLE_BUDGET_BYTES, memtableCache, true);
        this.dbOptions = new DBOptions()
                .setWriteBufferManager(memtableBudget)
                .setCreateIfMissing(true)
                .setCreateMissingColumnFamilies(true)
                .setMaxBackgroundJobs(2)
                .setKeepLogFileNum(2);
        List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
        ColumnFamilyOptions plain = new ColumnFamilyOptions();
        cfOptions.add(plain);
        descriptors.add(new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, plain));
        for (ObjectKind kind : ObjectKind.values()) {
            ColumnFamilyOptions o = new ColumnFamilyOptions();
            if (kind == ObjectKind.CHUNK || kind == ObjectKind.DELTA) {
                o.setEnableBlobFiles(true).setMinBlobSize(MIN_BLOB_BYTES).setBlobFileSize(256L << 20)
                        .setEnableBlobGarbageCollection(true).setWriteBufferSize(64L << 20);
            }
            cfOptions.add(o);
            descriptors.add(new ColumnFamilyDescriptor(kind.columnFamily().getBytes(), o));
        }
        for (Table t : Table.values()) {
            descriptors.add(new ColumnFamilyDescriptor(t.name().toLowerCase().getBytes(), plain));
        }
        // Read-only: no lock, no WAL recovery written back, no new MANIFEST or OPTIONS file (and fsyncs).
        this.db = readOnly ? RocksDB.openReadOnly(dbOptions, dir.toString(), descriptors, handles)
                : openWithRetry(dir, descriptors);
        int i = 1;
        for (ObjectKind kind : ObjectKind.values()) {
            objectFamilies.put(kind, handles.get(i++));
        }
        for (Table t : Table.values()) {
            tables.put(t, handles.get(i++));
        }
        this.syncWrite = new WriteOptions().setSync(true);
        this.asyncWrite = new WriteOptions();
        this.unloggedWrite = new WriteOptions().setDisableWAL(true);
    }

    /** Another process holding the database waits a while for it, rather than failing at once. */
    private RocksDB openWithRetry(Path dir, List<ColumnFamilyDescriptor> descriptors)
            throws RocksDBException, InterruptedException {
        long deadline = System.currentTimeMillis() + LOCK_WAIT_MILLIS;
        while (true) {
            try {
                return RocksDB.open(dbOptions, dir.toString(), descriptors, handles);
            } catch (RocksDBException e) {
                String msg = String.valueOf(e.getMessage());
                boolean locked = msg.contains("lock") || msg.contains("Resource temporarily unavailable");
                if (!locked || System.currentTimeMillis() > deadline) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }

    /**
     * A consistent copy of the whole database in {@code target} (which must not exist), taken while
     * others keep writing: RocksDB flushes the memtables (also unlogged writes) and hard-links the
     * immutable files where it can, copying otherwise.
     */
    void checkpoint(Path target) {
        // Exclusive: chunks are written without the WAL, so a write racing the checkpoint could
        // land its (logged) ref in the copy but not its (unlogged) chunks. Writers wait while the
        // memtables are flushed and the files hard-linked, which is quick.
        guard.writeLock().lock();
        try {
            if (closed) {
                throw new StoreException("store " + dir + " is closed");
            }
            try (org.rocksdb.Checkpoint cp = org.rocksdb.Checkpoint.create(db)) {
                cp.createCheckpoint(target.toString());
            }
        } catch (RocksDBException e) {
            throw new StoreException("backup of " + dir + " to " + target + ": " + e.getMessage(), e);
        } finally {
            guard.writeLock().unlock();
        }
    }

    static RocksStore open(Path dir) {
        return open(dir, false);
    }

    /** Opens for reading only (writes fail); a store that needs upgrading on open is opened for writing. */
    static RocksStore openForReading(Path dir) {
        try {
            return new RocksStore(dir, true);
        } catch (RocksDBException | InterruptedException e) {
            return open(dir, false); // e.g. a column family this version adds: a normal open creates it
        }
    }

    private static RocksStore open(Path dir, boolean readOnly) {
        try {
            Files.createDirectories(dir);
            return new RocksStore(dir, readOnly);
        } catch (RocksDBException e) {
            throw new StoreException("cannot open store " + dir + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException("interrupted while waiting for the lock on " + dir);
        } catch (java.io.IOException e) {
            throw new StoreException("cannot create " + dir + ": " + e.getMessage(), e);
        }
    }

    Path dir() {
        return dir;
    }

    private StoreException wrap(String what, RocksDBException e) {
        return new StoreException("store " + dir + ": " + what + ": " + e.getMessage(), e);
    }

    byte[] get(ObjectKind kind, ObjectId id) {
        enter();
        try {
            try {
                return db.get(objectFamilies.get(kind), id.rawUnsafe());
            } catch (RocksDBException e) {
                throw wrap("reading " + kind + " " + id, e);
            }
        } finally {
            exit();
        }
    }

    /**
     * Reads an object straight into {@code target} (e.g. a slice of a memory-mapped output file),
     * avoiding the Java heap. Returns the object's size, or -1 if it is missing; throws if the
     * object is larger than {@code target}.
     */
    long readInto(ObjectKind kind, ObjectId id, MemorySegment target) {
        enter();
        try {
            ByteBuffer key = ByteBuffer.allocateDirect(ObjectId.LENGTH).put(id.rawUnsafe()).flip();
            ByteBuffer value = target.asByteBuffer();
            try (ReadOptions ro = new ReadOptions().setVerifyChecksums(true)) {
                int size = db.get(objectFamilies.get(kind), ro, key, value);
                if (size == RocksDB.NOT_FOUND) {
                    return -1;
                }
                if (size > target.byteSize()) {
                    throw new StoreException("store " + dir + ": " + kind + " " + id + " is " + size
                            + " bytes, expected at most " + target.byteSize());
                }
                return size;
            } catch (RocksDBException e) {
                throw wrap("reading " + kind + " " + id, e);
            }
        } finally {
            exit();
        }
    }

    byte[] get(Table t, byte[] key) {
        enter();
        try {
            try {
                return db.get(tables.get(t), key);
            } catch (RocksDBException e) {
                throw wrap("reading " + t, e);
            }
        } finally {
            exit();
        }
    }

    /** Calls {@code visit} with every key and value of a table or object family, in key order. */
    void forEach(ColumnFamilyHandle cf, byte[] prefix, BiConsumer<byte[], byte[]> visit) {
        scan(cf, prefix, true, (k, v) -> {
            visit.accept(k, v);
            return true;
        });
    }

    /** Like {@link #forEach}, stopping as soon as {@code visit} returns false. */
    void forEachWhile(ColumnFamilyHandle cf, byte[] prefix, java.util.function.BiPredicate<byte[], byte[]> visit) {
        scan(cf, prefix, true, visit);
    }

    /** Visits only keys: values are not read, which is cheap for tensor chunks kept in blob files. */
    void forEachKey(ObjectKind kind, byte[] prefix, java.util.function.Consumer<byte[]> visit) {
        scan(objectFamilies.get(kind), prefix, false, (k, v) -> {
            visit.accept(k);
            return true;
        });
    }

    private void scan(ColumnFamilyHandle cf, byte[] prefix, boolean values, java.util.function.BiPredicate<byte[], byte[]> visit) {
        enter();
        try (RocksIterator it = db.newIterator(cf)) {
            if (prefix == null) {
                it.seekToFirst();
            } else {
                it.seek(prefix);
            }
            for (; it.isValid(); it.next()) {
                byte[] k = it.key();
                if (prefix != null && !startsWith(k, prefix)) {
                    break;
                }
                if (!visit.test(k, values ? it.value() : null)) {
                    break;
                }
            }
            it.status();
        } catch (RocksDBException e) {
            throw wrap("scanning", e);
        } finally {
            exit();
        }
    }

    /** The largest key of table {@code t} starting with {@code prefix}, or null. */
    byte[] lastKey(Table t, byte[] prefix) {
        enter();
        try (RocksIterator it = db.newIterator(tables.get(t))) {
            byte[] bound = java.util.Arrays.copyOf(prefix, prefix.length + 16);
            java.util.Arrays.fill(bound, prefix.length, bound.length, (byte) 0xff);
            it.seekForPrev(bound);
            if (it.isValid() && startsWith(it.key(), prefix)) {
                return it.key();
            }
            return null;
        } finally {
            exit();
        }
    }

    ColumnFamilyHandle family(ObjectKind kind) {
        return objectFamilies.get(kind);
    }

    ColumnFamilyHandle family(Table t) {
        return tables.get(t);
    }

    private static boolean startsWith(byte[] k, byte[] prefix) {
        if (k.length < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (k[i] != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    /** A set of changes written atomically by {@link #write}. Not thread-safe. */
    final class Batch implements AutoCloseable {
        private final WriteBatch wb = new WriteBatch();
        private long bytes;

        void put(ObjectKind kind, ObjectId id, byte[] value) {
            try {
                wb.put(objectFamilies.get(kind), id.rawUnsafe(), value);
                bytes += value.length;
            } catch (RocksDBException e) {
                throw wrap("batching " + kind, e);
            }
        }

        /** Adds an object whose bytes are off-heap (a slice of a mapped file). */
        void put(ObjectKind kind, ObjectId id, MemorySegment value) {
            try {
                if (!value.isNative()) {
                    wb.put(objectFamilies.get(kind), id.rawUnsafe(), value.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                } else {
                    ByteBuffer key = ByteBuffer.allocateDirect(ObjectId.LENGTH).put(id.rawUnsafe()).flip();
                    wb.put(objectFamilies.get(kind), key, value.asByteBuffer());
                }
                bytes += value.byteSize();
            } catch (RocksDBException e) {
                throw wrap("batching " + kind, e);
            }
        }

        void delete(ObjectKind kind, ObjectId id) {
            try {
                wb.delete(objectFamilies.get(kind), id.rawUnsafe());
            } catch (RocksDBException e) {
                throw wrap("batching delete", e);
            }
        }

        void put(Table t, byte[] key, byte[] value) {
            try {
                wb.put(tables.get(t), key, value);
            } catch (RocksDBException e) {
                throw wrap("batching " + t, e);
            }
        }

        void delete(Table t, byte[] key) {
            try {
                wb.delete(tables.get(t), key);
            } catch (RocksDBException e) {
                throw wrap("batching delete", e);
            }
        }

        long bytes() {
            return bytes;
        }

        int count() {
            return wb.count();
        }

        @Override
        public void close() {
            wb.close();
        }
    }

    Batch newBatch() {
        return new Batch();
    }

    /** Writes the batch atomically; {@code sync} also makes it (and all before it) durable. */
    void write(Batch batch, boolean sync) {
        enter();
        try {
            try {
                db.write(sync ? syncWrite : asyncWrite, batch.wb);
            } catch (RocksDBException e) {
                throw wrap("writing", e);
            }
        } finally {
            exit();
        }
    }

    /**
     * Stores one object without the write-ahead log, straight from off-heap memory: for tensor
     * chunks, which would otherwise be written to disk twice and need no batch (they are
     * immutable). Callers must {@link #flush(ObjectKind)} before anything that refers to them is
     * written with the log. Thread-safe.
     */
    void putUnlogged(ObjectKind kind, ObjectId id, MemorySegment value) {
        enter();
        try {
            if (value.isNative()) {
                ByteBuffer key = ByteBuffer.allocateDirect(ObjectId.LENGTH).put(id.rawUnsafe()).flip();
                db.put(objectFamilies.get(kind), unloggedWrite, key, value.asByteBuffer());
            } else {
                db.put(objectFamilies.get(kind), unloggedWrite, id.rawUnsafe(), value.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            }
        } catch (RocksDBException e) {
            throw wrap("writing " + kind + " " + id, e);
        } finally {
            exit();
        }
    }

    /** Makes everything written to one object family durable (memtable to synced files). */
    void flush(ObjectKind kind) {
        enter();
        try (var fo = new org.rocksdb.FlushOptions().setWaitForFlush(true)) {
            db.flush(fo, objectFamilies.get(kind));
        } catch (RocksDBException e) {
            throw wrap("flushing " + kind, e);
        } finally {
            exit();
        }
    }

    void compact() {
        enter();
        try {
            try {
                for (ColumnFamilyHandle h : handles) {
                    db.compactRange(h);
                }
            } catch (RocksDBException e) {
                throw wrap("compacting", e);
            }
        } finally {
            exit();
        }
    }

    @Override
    public void close() {
        guard.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
        } finally {
            guard.writeLock().unlock();
        }
        // Order matters: column family handles before the DB, the DB before the options it uses.
        handles.forEach(ColumnFamilyHandle::close);
        db.close();
        syncWrite.close();
        asyncWrite.close();
        unloggedWrite.close();
        dbOptions.close();
        cfOptions.forEach(ColumnFamilyOptions::close);
        memtableBudget.close();
        memtableCache.close();
    }

    /** Bytes held in memtables over all column families (RocksDB's own count). */
    long memtableBytes() {
        try {
            return db.getAggregatedLongProperty("rocksdb.cur-size-all-mem-tables");
        } catch (RocksDBException e) {
            throw new IllegalStateException(e);
        }
    }
}
