package dev.merit.store;

import dev.merit.error.InvalidInputException;
import dev.merit.error.NotFoundException;
import dev.merit.safetensors.SafetensorsFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Merit repository: the object store, refs and the materialized-version cache under
 * {@code .merit/} of a working directory.
 *
 * <p>Use it in try-with-resources; one process opens a repository at a time (a second waits for
 * the lock). Operations are safe to call from several threads.
 */
public final class Repository implements AutoCloseable {

    public static final String DIR_NAME = ".merit";
    /** Tensors are stored as chunks of this size, so unchanged stretches of a rewritten tensor deduplicate. */
    public static final int CHUNK_BYTES = 1 << 20;
    /** A tensor gets a new keyframe once this many deltas sit on its last one... */
    public static final int MAX_CHAIN = 16;
    /** ...or once its deltas add up to this fraction of the tensor's dense size. */
    public static final double KEYFRAME_FRACTION = 0.5;
    private static final Pattern ANCESTOR = Pattern.compile("^(.*)~(\\d*)$");

    private final Path workDir;
    private final Path metaDir;
    private final RocksStore store;
    private final RefDatabase refs;
    private final Materializer materializer;
    private final VersionCache cache;
    private final java.util.concurrent.atomic.AtomicLong outboxSequence;
    /** One fair lock per ref that commits take, so writers in this process queue instead of racing. */
    private final java.util.concurrent.ConcurrentHashMap<String, java.util.concurrent.locks.ReentrantLock> refLocks =
            new java.util.concurrent.ConcurrentHashMap<>();

    private Repository(Path workDir, boolean readOnly) {
        this.workDir = workDir;
        this.metaDir = workDir.resolve(DIR_NAME);
        this.store = readOnly ? RocksStore.openForReading(metaDir.resolve("db")) : RocksStore.open(metaDir.resolve("db"));
        this.refs = new RefDatabase(store);
        this.materializer = new Materializer(store);
        this.cache = new VersionCache(metaDir.resolve("cache"), materializer);
        this.outboxSequence = new java.util.concurrent.atomic.AtomicLong(Outbox.lastSequence(store));
    }

    /** Creates a repository in {@code dir}; fails if one is already there. */
    public static Repository init(Path dir) {
        Path abs = dir.toAbsolutePath().normalize();
        if (Files.exists(abs.resolve(DIR_NAME))) {
            throw new InvalidInputException(abs + ": a Merit repository already exists here");
        }
        try {
            Files.createDirectories(abs.resolve(DIR_NAME));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + abs.resolve(DIR_NAME) + ": " + e.getMessage(), e);
        }
        Repository repo = new Repository(abs, false);
        repo.refs.setHead(RefDatabase.HEADS + "main");
        return repo;
    }

    /** Opens the repository of {@code dir} or of its nearest ancestor that has one. */
    public static Repository open(Path dir) {
        return new Repository(find(dir), false);
    }

    /**
     * Opens for commands that only read (log, show, diff): it takes no lock, so it neither waits for
     * nor blocks a writer, and opening writes nothing. Anything that writes to the store fails.
     */
    public static Repository openForReading(Path dir) {
        return new Repository(find(dir), true);
    }

    private static Path find(Path dir) {
        Path abs = dir.toAbsolutePath().normalize();
        for (Path p = abs; p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve(DIR_NAME).resolve("db"))) {
                return p;
            }
        }
        throw new NotFoundException("not a Merit repository (or any parent up to /): " + abs);
    }

    public Path workDir() {
        return workDir;
    }

    /**
     * Backs the repository up into {@code target} while it stays in use: afterwards {@code target}
     * is a repository of its own ({@link #open}) holding every object, ref, record and outbox event
     * committed before the call. {@code target} must not exist or be an empty directory; the
     * derived version cache is not copied.
     */
    public Path backup(Path target) {
        Path abs = target.toAbsolutePath().normalize();
        try {
            if (Files.exists(abs)) {
                if (!Files.isDirectory(abs)) {
                    throw new InvalidInputException("backup target " + abs + " exists and is not a directory");
                }
                try (var entries = Files.list(abs)) {
                    if (entries.findAny().isPresent()) {
                        throw new InvalidInputException("backup target " + abs + " is not empty");
                    }
                }
            }
            Files.createDirectories(abs.resolve(DIR_NAME));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + abs.resolve(DIR_NAME) + ": " + e.getMessage(), e);
        }
        store.checkpoint(abs.resolve(DIR_NAME).resolve("db"));
        return abs;
    }

    // ---------------------------------------------------------------- objects

    public Commit readCommit(ObjectId id) {
        byte[] b = store.get(ObjectKind.COMMIT, id);
        if (b == null) {
            throw new NotFoundException("commit " + id + " not found");
        }
        return Commit.decode(id, b);
    }

    public Manifest readManifest(ObjectId id) {
        byte[] b = store.get(ObjectKind.MANIFEST, id);
        if (b == null) {
            throw new StoreException("manifest " + id + " is missing from " + store.dir() + " (run merit fsck)");
        }
        return Manifest.decode(id, b);
    }

    /** Size of a stored object in bytes, or -1 if absent. */
    public long objectSize(ObjectId id) {
        byte[] v = store.get(RocksStore.Table.SIZES, id.rawUnsafe());
        return v == null ? -1 : ByteBuffer.wrap(v).getLong();
    }

    RocksStore store() {
        return store;
    }

    RefDatabase refs() {
        return refs;
    }

    // ---------------------------------------------------------------- refs and revisions

    /** The current branch's short name, e.g. {@code main}. */
    public String currentBranch() {
        String t = refs.headTarget();
        return t.startsWith(RefDatabase.HEADS) ? t.substring(RefDatabase.HEADS.length()) : t;
    }

    public Optional<ObjectId> head() {
        return refs.read(RefDatabase.HEAD);
    }

    /**
     * Resolves a revision: {@code HEAD}, a branch, a tag, a full or unique-prefix commit id, or
     * any of these followed by {@code ~N} (N-th first-parent ancestor).
     */
    public ObjectId resolve(String rev) {
        if (rev == null || rev.isBlank()) {
            throw new InvalidInputException("empty revision");
        }
        Matcher m = ANCESTOR.matcher(rev);
        if (m.matches()) {
            int n = m.group(2).isEmpty() ? 1 : Integer.parseInt(m.group(2));
            ObjectId id = resolve(m.group(1));
            for (int i = 0; i < n; i++) {
                List<ObjectId> parents = readCommit(id).parents();
                if (parents.isEmpty()) {
                    throw new NotFoundException("revision '" + rev + "': history has only " + i + " ancestor(s)");
                }
                id = parents.get(0);
            }
            return id;
        }
        if (rev.equals(RefDatabase.HEAD)) {
            return head().orElseThrow(() -> new NotFoundException("HEAD: branch '" + currentBranch() + "' has no commits yet"));
        }
        for (String ref : List.of(rev, RefDatabase.HEADS + rev, RefDatabase.TAGS + rev)) {
            if (ref.startsWith("refs/")) {
                Optional<ObjectId> id = refs.read(ref);
                if (id.isPresent()) {
                    return id.get();
                }
            }
        }
        if (rev.length() >= 4 && rev.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
            return resolvePrefix(rev.toLowerCase());
        }
        throw new NotFoundException("unknown revision '" + rev + "'");
    }

    private ObjectId resolvePrefix(String hex) {
        if (ObjectId.isFullHex(hex)) {
            ObjectId id = ObjectId.fromString(hex);
            if (store.get(ObjectKind.COMMIT, id) == null) {
                throw new NotFoundException("unknown revision '" + hex + "'");
            }
            return id;
        }
        byte[] prefix = java.util.HexFormat.of().parseHex(hex.substring(0, hex.length() & ~1));
        List<ObjectId> matches = new ArrayList<>();
        store.forEachKey(ObjectKind.COMMIT, prefix, k -> {
            ObjectId id = ObjectId.fromRaw(k);
            if (id.name().startsWith(hex)) {
                matches.add(id);
            }
        });
        if (matches.isEmpty()) {
            throw new NotFoundException("unknown revision '" + hex + "'");
        }
        if (matches.size() > 1) {
            throw new InvalidInputException("revision '" + hex + "' is ambiguous: matches " + matches.size() + " commits");
        }
        return matches.get(0);
    }

    /** Branches by short name. */
    public TreeMap<String, ObjectId> branches() {
        return shortNames(refs.list(RefDatabase.HEADS), RefDatabase.HEADS);
    }

    /** Tags by short name. */
    public TreeMap<String, ObjectId> tags() {
        return shortNames(refs.list(RefDatabase.TAGS), RefDatabase.TAGS);
    }

    private static TreeMap<String, ObjectId> shortNames(TreeMap<String, ObjectId> full, String prefix) {
        TreeMap<String, ObjectId> out = new TreeMap<>();
        full.forEach((k, v) -> out.put(k.substring(prefix.length()), v));
        return out;
    }

    private static void checkRefName(String kind, String name) {
        if (name.isEmpty() || !name.matches("[A-Za-z0-9._/-]+") || name.contains("..") || name.startsWith("-")
                || name.startsWith("/") || name.endsWith("/") || name.equals(RefDatabase.HEAD)) {
            throw new InvalidInputException("invalid " + kind + " name '" + name + "'");
        }
    }

    public RefUpdate createBranch(String name, ObjectId at) {
        checkRefName("branch", name);
        return createRef(RefDatabase.HEADS + name, "branch", name, at);
    }

    public RefUpdate createTag(String name, ObjectId at) {
        checkRefName("tag", name);
        return createRef(RefDatabase.TAGS + name, "tag", name, at);
    }

    private RefUpdate createRef(String ref, String kind, String name, ObjectId at) {
        readCommit(at);
        try (RocksStore.Batch b = store.newBatch()) {
            RefUpdate r = refs.compareAndSwap(ref, Optional.empty(), Optional.of(at), kind + ": created at " + at.abbreviate(12), b);
            if (r == RefUpdate.LOCK_FAILURE) {
                throw new InvalidInputException(kind + " '" + name + "' already exists");
            }
            return r;
        }
    }

    public RefUpdate deleteBranch(String name) {
        if (name.equals(currentBranch())) {
            throw new InvalidInputException("cannot delete branch '" + name + "': it is the current branch");
        }
        String ref = RefDatabase.HEADS + name;
        Optional<ObjectId> cur = refs.read(ref);
        if (cur.isEmpty()) {
            throw new NotFoundException("branch '" + name + "' not found");
        }
        try (RocksStore.Batch b = store.newBatch()) {
            return refs.compareAndSwap(ref, cur, Optional.empty(), "branch: deleted", b);
        }
    }

    /** Makes {@code name} the current branch; it must exist unless the repository has no commits. */
    public void switchBranch(String name) {
        String ref = RefDatabase.HEADS + name;
        if (refs.read(ref).isEmpty()) {
            throw new NotFoundException("branch '" + name + "' not found");
        }
        refs.setHead(ref);
    }

    /**
     * Moves a branch (full ref name or short name) by compare-and-swap, writing nothing else.
     * Exposed for front ends and tests that coordinate writers.
     */
    public RefUpdate updateBranch(String branch, Optional<ObjectId> expected, ObjectId newId, String message) {
        return updateBranch(branch, expected, newId, message, tx -> {});
    }

    /** Like {@link #updateBranch(String, Optional, ObjectId, String)}, writing {@code rows} in the same batch if the swap succeeds. */
    public RefUpdate updateBranch(String branch, Optional<ObjectId> expected, ObjectId newId, String message,
                                  java.util.function.Consumer<Transaction> rows) {
        String ref = branch.startsWith("refs/") || branch.equals(RefDatabase.HEAD) ? branch : RefDatabase.HEADS + branch;
        try (RocksStore.Batch b = store.newBatch()) {
            rows.accept(new Transaction(this, b, false));
            return refs.compareAndSwap(ref, expected, Optional.of(newId), message, b);
        }
    }

    /**
     * The lock that serializes commits to {@code ref} within this process: a commit computes its
     * change against the head it read, so two writers racing on one branch would redo each
     * other's work, and one could lose every race. Fair, so waiting writers go in arrival order.
     */
    java.util.concurrent.locks.ReentrantLock refLock(String ref) {
        return refLocks.computeIfAbsent(ref, r -> new java.util.concurrent.locks.ReentrantLock(true));
    }

    RefUpdate updateRef(String ref, Optional<ObjectId> expected, ObjectId newId, String message, RocksStore.Batch batch) {
        return refs.compareAndSwap(ref, expected, Optional.of(newId), message, batch);
    }

    public List<ReflogEntry> reflog(String ref) {
        String full = ref.equals(RefDatabase.HEAD) || ref.startsWith("refs/") ? ref : RefDatabase.HEADS + ref;
        return refs.reflog(full);
    }

    /** Commits reachable from {@code start}, newest first (by time, then id), at most {@code max}. */
    public List<Map.Entry<ObjectId, Commit>> log(ObjectId start, int max) {
        List<Map.Entry<ObjectId, Commit>> out = new ArrayList<>();
        Set<ObjectId> seen = new HashSet<>();
        PriorityQueue<Map.Entry<ObjectId, Commit>> queue = new PriorityQueue<>(
                Comparator.<Map.Entry<ObjectId, Commit>, java.time.Instant>comparing(e -> e.getValue().time()).reversed()
                        .thenComparing(Map.Entry::getKey));
        queue.add(Map.entry(start, readCommit(start)));
        seen.add(start);
        while (!queue.isEmpty() && out.size() < max) {
            var e = queue.poll();
            out.add(e);
            for (ObjectId p : e.getValue().parents()) {
                if (seen.add(p)) {
                    queue.add(Map.entry(p, readCommit(p)));
                }
            }
        }
        return out;
    }

    // ---------------------------------------------------------------- records and events

    /** A batch of records and outbox events written atomically by {@link Transaction#commit()}. */
    public Transaction newTransaction() {
        return new Transaction(this, store.newBatch(), true);
    }

    public Optional<byte[]> getRecord(String namespace, String key) {
        return Optional.ofNullable(store.get(RocksStore.Table.RECORDS, Transaction.recordKey(namespace, key)));
    }

    /** Records of {@code namespace} whose key starts with {@code keyPrefix}, in key order. */
    public void scanRecords(String namespace, String keyPrefix, java.util.function.BiConsumer<String, byte[]> visit) {
        byte[] prefix = Transaction.recordKey(namespace, keyPrefix);
        int skip = namespace.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 1;
        store.forEach(store.family(RocksStore.Table.RECORDS), prefix, (k, v) ->
                visit.accept(new String(k, skip, k.length - skip, java.nio.charset.StandardCharsets.UTF_8), v));
    }

    /** Events written by transactions and commits, waiting to be published. */
    public Outbox outbox() {
        return new Outbox(this);
    }

    long nextOutboxSequence() {
        return outboxSequence.incrementAndGet();
    }

    // ---------------------------------------------------------------- writing versions

    public CommitCommand commit() {
        return new CommitCommand(this);
    }

    // ---------------------------------------------------------------- reading versions

    /**
     * Writes version {@code commit} to {@code out} as safetensors. Chunks are read from the
     * store straight into the memory-mapped output, then each tensor's deltas are applied.
     */
    public void checkout(ObjectId commit, Path out, ProgressListener progress) {
        Manifest m = readManifest(readCommit(commit).manifest());
        writeManifest(m, out, progress, false);
    }

    /** The diagonal Fisher attached to a commit, written to {@code out}; empty if none. */
    public boolean checkoutFisher(ObjectId commit, Path out) {
        Optional<ObjectId> f = readCommit(commit).fisher();
        if (f.isEmpty()) {
            return false;
        }
        writeManifest(readManifest(f.get()), out, ProgressListener.NONE, false);
        return true;
    }

    /** Materializes a manifest; {@code durable} (fsync) for files Merit itself relies on, like the cache. */
    void writeManifest(Manifest m, Path out, ProgressListener progress, boolean durable) {
        materializer.write(m, out, progress, durable);
    }

    /** Rebuilds one tensor of a manifest in {@code tensor} (its keyframe, then its deltas). */
    void readTensor(Manifest.Entry e, MemorySegment tensor) {
        materializer.readTensor(e, tensor);
    }

    /**
     * A read-only view of a version, materialized once into {@code .merit/cache} and memory-mapped
     * from there, so comparing against it does not hold the model in memory.
     */
    public SafetensorsFile openVersion(ObjectId commit) {
        return cache.open(commit.name() + ".safetensors", () -> manifestOf(commit));
    }

    /** The Fisher attached to {@code commit}, materialized into the cache like a version. */
    SafetensorsFile openFisher(ObjectId commit) {
        ObjectId manifest = readCommit(commit).fisher().orElseThrow(
                () -> new NotFoundException("commit " + commit.abbreviate(12) + " has no Fisher attached"));
        return cache.open(manifest.name() + ".fisher.safetensors", () -> readManifest(manifest));
    }

    /**
     * The RegMean Gram matrices attached to {@code commit} (see {@link CommitCommand#setGram}),
     * materialized into the cache like a version; empty if none.
     */
    public Optional<SafetensorsFile> openGram(ObjectId commit) {
        return readCommit(commit).gram().map(manifest ->
                cache.open(manifest.name() + ".gram.safetensors", () -> readManifest(manifest)));
    }

    /** Scratch space for large intermediate files (merge outputs before they are committed). */
    Path tempDir() {
        Path t = metaDir.resolve("tmp");
        try {
            Files.createDirectories(t);
        } catch (IOException e) {
            throw new UncheckedIOException(t + ": " + e.getMessage(), e);
        }
        return t;
    }

    /**
     * The newest common ancestor of {@code commits} (each counts as its own ancestor); empty if
     * their histories are unrelated.
     */
    public Optional<ObjectId> mergeBase(List<ObjectId> commits) {
        Set<ObjectId> common = null;
        for (ObjectId c : commits) {
            Set<ObjectId> ancestors = new HashSet<>();
            log(c, Integer.MAX_VALUE).forEach(e -> ancestors.add(e.getKey()));
            if (common == null) {
                common = ancestors;
            } else {
                common.retainAll(ancestors);
            }
        }
        if (common == null || common.isEmpty()) {
            return Optional.empty();
        }
        return common.stream().max(Comparator.comparing((ObjectId id) -> readCommit(id).time()).thenComparing(id -> id));
    }

    public MergeCommand merge() {
        return new MergeCommand(this);
    }

    /** Tensors of version {@code commit} as a manifest, for statistics without materializing. */
    public Manifest manifestOf(ObjectId commit) {
        return readManifest(readCommit(commit).manifest());
    }

    // ---------------------------------------------------------------- transfer between repositories

    /** The stored bytes of an object, for sending it to another repository. */
    public Optional<byte[]> readObject(ObjectKind kind, ObjectId id) {
        return Optional.ofNullable(store.get(kind, id));
    }

    /**
     * Objects reachable from {@code tip} but not from any of {@code have} (commits the receiver
     * already has), in an order the receiver can import safely: chunks and deltas, then
     * manifests, then commits oldest first.
     */
    public List<Map.Entry<ObjectKind, ObjectId>> missingObjects(ObjectId tip, java.util.Collection<ObjectId> have) {
        Set<ObjectId> haveCommits = new HashSet<>();
        Set<ObjectId> haveObjects = new HashSet<>();
        // One walk over the union of the receivers' histories: each commit is read once however many haves share it.
        List<ObjectId> pending = new ArrayList<>(have);
        while (!pending.isEmpty()) {
            ObjectId h = pending.remove(pending.size() - 1);
            byte[] b = haveCommits.contains(h) ? null : store.get(ObjectKind.COMMIT, h);
            if (b == null) {
                continue; // already walked, or a commit the receiver has and this side lacks
            }
            haveCommits.add(h);
            Commit c = Commit.decode(h, b);
            objectsOf(c, haveObjects);
            pending.addAll(c.parents());
        }
        List<Map.Entry<ObjectId, Commit>> commits = new ArrayList<>();
        Set<ObjectId> seen = new HashSet<>(haveCommits);
        List<ObjectId> stack = new ArrayList<>(List.of(tip));
        while (!stack.isEmpty()) {
            ObjectId id = stack.remove(stack.size() - 1);
            if (!seen.add(id)) {
                continue;
            }
            Commit c = readCommit(id);
            commits.add(Map.entry(id, c));
            stack.addAll(c.parents());
        }
        commits.sort(Comparator.comparing((Map.Entry<ObjectId, Commit> e) -> e.getValue().time()).thenComparing(Map.Entry::getKey));
        List<Map.Entry<ObjectKind, ObjectId>> data = new ArrayList<>();
        List<Map.Entry<ObjectKind, ObjectId>> manifests = new ArrayList<>();
        Set<ObjectId> sent = new HashSet<>(haveObjects);
        for (var e : commits) {
            Commit c = e.getValue();
            for (ObjectId mid : c.manifests()) {
                if (!sent.add(mid)) {
                    continue;
                }
                for (Manifest.Entry t : readManifest(mid).tensors()) {
                    t.keyframe().stream().filter(sent::add).forEach(x -> data.add(Map.entry(ObjectKind.CHUNK, x)));
                    t.deltas().stream().filter(sent::add).forEach(x -> data.add(Map.entry(ObjectKind.DELTA, x)));
                }
                manifests.add(Map.entry(ObjectKind.MANIFEST, mid));
            }
        }
        List<Map.Entry<ObjectKind, ObjectId>> out = new ArrayList<>(data);
        out.addAll(manifests);
        commits.forEach(e -> out.add(Map.entry(ObjectKind.COMMIT, e.getKey())));
        return out;
    }

    private void objectsOf(Commit c, Set<ObjectId> into) {
        for (ObjectId mid : c.manifests()) {
            if (into.add(mid)) {
                for (Manifest.Entry t : readManifest(mid).tensors()) {
                    into.addAll(t.keyframe());
                    into.addAll(t.deltas());
                }
            }
        }
    }

    /**
     * Stores an object received from another repository after checking that its bytes hash to
     * {@code expected}; returns false if it was already present. Objects are immutable, so this
     * is safe to repeat; the ref that makes them reachable is moved separately.
     */
    public boolean importObject(ObjectKind kind, ObjectId expected, byte[] bytes) {
        ObjectId actual = ObjectSink.hash(kind, bytes);
        if (!actual.equals(expected)) {
            throw new InvalidInputException(kind.name().toLowerCase() + " " + expected + ": received bytes hash to " + actual);
        }
        if (kind == ObjectKind.COMMIT) {
            Commit.decode(expected, bytes);
        } else if (kind == ObjectKind.MANIFEST) {
            Manifest.decode(expected, bytes);
        }
        if (objectSize(expected) >= 0) {
            return false;
        }
        try (RocksStore.Batch b = store.newBatch()) {
            b.put(kind, expected, bytes);
            b.put(RocksStore.Table.SIZES, expected.rawUnsafe(), ObjectSink.longBytes(bytes.length));
            store.write(b, false);
        }
        return true;
    }

    // ---------------------------------------------------------------- maintenance

    /** Every object reachable from refs and reflogs, by kind. */
    Map<ObjectKind, Set<ObjectId>> reachable(List<String> problems) {
        Map<ObjectKind, Set<ObjectId>> seen = new LinkedHashMap<>();
        for (ObjectKind k : ObjectKind.values()) {
            seen.put(k, new HashSet<>());
        }
        List<ObjectId> roots = new ArrayList<>(refs.list("refs/").values());
        refs.allReflogs().forEach(r -> r.newId().ifPresent(roots::add));
        List<ObjectId> stack = new ArrayList<>(roots);
        while (!stack.isEmpty()) {
            ObjectId id = stack.remove(stack.size() - 1);
            if (!seen.get(ObjectKind.COMMIT).add(id)) {
                continue;
            }
            byte[] b = store.get(ObjectKind.COMMIT, id);
            if (b == null) {
                problems.add("missing commit " + id);
                continue;
            }
            Commit c;
            try {
                c = Commit.decode(id, b);
            } catch (RuntimeException e) {
                problems.add("unreadable commit " + id + ": " + e.getMessage());
                continue;
            }
            stack.addAll(c.parents());
            for (ObjectId mid : c.manifests()) {
                if (!seen.get(ObjectKind.MANIFEST).add(mid)) {
                    continue;
                }
                byte[] mb = store.get(ObjectKind.MANIFEST, mid);
                if (mb == null) {
                    problems.add("missing manifest " + mid + " (of commit " + id.abbreviate(12) + ")");
                    continue;
                }
                try {
                    Manifest m = Manifest.decode(mid, mb);
                    for (Manifest.Entry e : m.tensors()) {
                        seen.get(ObjectKind.CHUNK).addAll(e.keyframe());
                        seen.get(ObjectKind.DELTA).addAll(e.deltas());
                    }
                } catch (RuntimeException e) {
                    problems.add("unreadable manifest " + mid + ": " + e.getMessage());
                }
            }
        }
        return seen;
    }

    /** Re-hashes every reachable object; reports missing and corrupted ones. */
    public FsckReport fsck(ProgressListener progress) {
        List<String> problems = new ArrayList<>();
        Map<ObjectKind, Set<ObjectId>> reach = reachable(problems);
        long total = reach.values().stream().mapToLong(Set::size).sum();
        progress.start("fsck", total);
        List<String> found = java.util.Collections.synchronizedList(new ArrayList<>());
        reach.forEach((kind, ids) -> ids.parallelStream().forEach(id -> {
            byte[] b = store.get(kind, id);
            if (b == null) {
                found.add("missing " + kind.name().toLowerCase() + " " + id);
            } else if (!ObjectSink.hash(kind, b).equals(id)) {
                found.add("corrupt " + kind.name().toLowerCase() + " " + id + ": content hashes to "
                        + ObjectSink.hash(kind, b));
            }
            progress.advance(1);
        }));
        progress.done();
        problems.addAll(found);
        problems.sort(null);
        return new FsckReport(total, problems);
    }

    /** Deletes objects no ref or reflog entry reaches. */
    public GcReport gc() {
        List<String> problems = new ArrayList<>();
        Map<ObjectKind, Set<ObjectId>> reach = reachable(problems);
        if (!problems.isEmpty()) {
            throw new StoreException("refusing to gc a damaged repository: " + problems.get(0) + " (run merit fsck)");
        }
        long removed = 0;
        long bytes = 0;
        try (RocksStore.Batch b = store.newBatch()) {
            for (ObjectKind kind : ObjectKind.values()) {
                List<ObjectId> dead = new ArrayList<>();
                store.forEachKey(kind, null, k -> {
                    ObjectId id = ObjectId.fromRaw(k);
                    if (!reach.get(kind).contains(id)) {
                        dead.add(id);
                    }
                });
                for (ObjectId id : dead) {
                    bytes += Math.max(0, objectSize(id));
                    b.delete(kind, id);
                    b.delete(RocksStore.Table.SIZES, id.rawUnsafe());
                    removed++;
                }
            }
            store.write(b, true);
        }
        store.compact();
        return new GcReport(removed, bytes);
    }

    @Override
    public void close() {
        store.close();
    }
}
