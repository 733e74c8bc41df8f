package dev.merit.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.testing.TestModels;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RefConcurrencyTest {

    @TempDir
    Path dir;

    @Test
    void compareAndSwapNeverLosesAnUpdate() throws Exception {
        Path v0 = TestModels.builder().tensor("w", DType.F32, 16).write(dir.resolve("v0.safetensors"));
        Path v1 = TestModels.perturb(v0, dir.resolve("v1.safetensors"), 1.0, 1);
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            ObjectId a;
            ObjectId b;
            try (SafetensorsFile f0 = SafetensorsFile.open(v0); SafetensorsFile f1 = SafetensorsFile.open(v1)) {
                a = repo.commit().setSource(f0).setMessage("a").call().id();
                b = repo.commit().setSource(f1).setMessage("b").setBranch("side").call().id();
            }
            // Two writers each flip main between a and b 200 times: read, then CAS, retrying on LOCK_FAILURE.
            int perWriter = 200;
            AtomicInteger lockFailures = new AtomicInteger();
            CountDownLatch go = new CountDownLatch(1);
            ExecutorService pool = Executors.newFixedThreadPool(2);
            List<Future<?>> fs = new java.util.ArrayList<>();
            for (int w = 0; w < 2; w++) {
                fs.add(pool.submit(() -> {
                    go.await();
                    for (int i = 0; i < perWriter; i++) {
                        while (true) {
                            ObjectId cur = repo.head().orElseThrow();
                            RefUpdate r = repo.updateBranch("main", Optional.of(cur), cur.equals(a) ? b : a, "flip");
                            if (r == RefUpdate.UPDATED) {
                                break;
                            }
                            assertEquals(RefUpdate.LOCK_FAILURE, r);
                            lockFailures.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            go.countDown();
            for (Future<?> f : fs) {
                f.get();
            }
            pool.shutdown();
            // 400 flips in all (an even number) bring main back to a, and each flip is in the reflog once.
            assertEquals(Optional.of(a), repo.head());
            List<ReflogEntry> log = repo.reflog("main");
            assertEquals(1 + 2 * perWriter, log.size());
            for (int i = 0; i + 1 < log.size(); i++) {
                assertEquals(log.get(i + 1).newId(), log.get(i).oldId(), "reflog entries chain without gaps");
            }
        }
    }

    /** Repeated: a starving writer shows up only in some interleavings. */
    @RepeatedTest(50)
    void concurrentCommitsToOneBranchAreAllKept() throws Exception {
        Path v0 = TestModels.builder().tensor("w", DType.F32, 64, 64).write(dir.resolve("v0.safetensors"));
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            try (SafetensorsFile f = SafetensorsFile.open(v0)) {
                repo.commit().setSource(f).setMessage("base").call();
            }
            int writers = 2;
            int each = 6;
            ExecutorService pool = Executors.newFixedThreadPool(writers);
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Set<ObjectId>>> fs = new java.util.ArrayList<>();
            for (int w = 0; w < writers; w++) {
                int writer = w;
                fs.add(pool.submit(() -> {
                    go.await();
                    Set<ObjectId> mine = new HashSet<>();
                    for (int i = 0; i < each; i++) {
                        Path v = TestModels.perturb(v0, dir.resolve("w" + writer + "-" + i + ".safetensors"), 0.01, writer * 1000 + i);
                        try (SafetensorsFile f = SafetensorsFile.open(v)) {
                            mine.add(repo.commit().setSource(f).setMessage("w" + writer + " #" + i).call().id());
                        }
                    }
                    return mine;
                }));
            }
            go.countDown();
            Set<ObjectId> all = new HashSet<>();
            for (Future<Set<ObjectId>> f : fs) {
                all.addAll(f.get());
            }
            pool.shutdown();
            assertEquals(writers * each, all.size());
            // Every commit is on main's first-parent chain: none was overwritten by a racing writer.
            List<Map.Entry<ObjectId, Commit>> log = repo.log(repo.resolve("main"), 1000);
            Set<ObjectId> onMain = new HashSet<>();
            log.forEach(e -> onMain.add(e.getKey()));
            assertTrue(onMain.containsAll(all), "lost commits: " + all.stream().filter(id -> !onMain.contains(id)).toList());
            assertEquals(writers * each + 1, log.size());
            assertEquals(writers * each + 1, repo.reflog("main").size());
        }
    }
}
