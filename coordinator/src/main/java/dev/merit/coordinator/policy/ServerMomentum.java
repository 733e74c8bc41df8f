package dev.merit.coordinator.policy;

import dev.merit.delta.SparseTensorDelta;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Server momentum on merged changes (FedAvgM, Hsu et al. 2019): per branch a velocity
 * {@code v <- beta v + D}, and the head moves by {@code eta v} instead of {@code eta D}. The
 * velocity is dense float32 off the heap (one model's worth per branch), kept in memory only: a
 * restart starts it again from zero, which only forgets the past rounds' push. Used by the merge
 * runner's one thread.
 */
final class ServerMomentum implements AutoCloseable {

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** A branch's velocity: one float32 segment per tensor, all owned by one arena. */
    private record Velocity(Arena arena, Map<String, MemorySegment> tensors) {}

    private final double beta;
    private final Map<String, Velocity> byBranch = new HashMap<>();

    ServerMomentum(double beta) {
        this.beta = beta;
    }

    /**
     * The step computed, not yet kept: the changes to commit and the velocity that becomes the
     * branch's when {@link #keep} is called after the commit went through.
     */
    final class Step implements AutoCloseable {
        private final String branch;
        private final Velocity next;
        private final Map<String, SparseTensorDelta> changes;
        private boolean kept;

        private Step(String branch, Velocity next, Map<String, SparseTensorDelta> changes) {
            this.branch = branch;
            this.next = next;
            this.changes = changes;
        }

        /** SET changes of {@code head + eta v}, entries whose value is unchanged left out. */
        Map<String, SparseTensorDelta> changes() {
            return changes;
        }

        void keep() {
            Velocity old = byBranch.put(branch, next);
            kept = true;
            if (old != null) {
                old.arena().close();
            }
        }

        @Override
        public void close() {
            if (!kept) {
                next.arena().close();
            }
        }
    }

    /**
     * From the merge engine's changes at step size 1 ({@code merged}: SET values of {@code head + D})
     * computes the new velocity and the changes that move {@code head} by {@code eta} times it.
     */
    Step step(String branch, TensorSource head, Map<String, SparseTensorDelta> merged, double eta) {
        Velocity old = byBranch.get(branch);
        Arena arena = Arena.ofShared();
        try {
            Map<String, MemorySegment> v = new LinkedHashMap<>();
            Map<String, SparseTensorDelta> changes = new LinkedHashMap<>();
            for (TensorInfo t : head.tensors()) {
                MemorySegment was = old == null ? null : old.tensors().get(t.name());
                SparseTensorDelta d = merged.get(t.name());
                if (was == null && d == null) {
                    continue;
                }
                long n = t.numel();
                DType dt = t.dtype();
                MemorySegment base = head.data(t.name());
                MemorySegment vel = arena.allocate(n * 4, 8);
                if (was != null) {
                    for (long i = 0; i < n; i++) {
                        vel.setAtIndex(F32, i, (float) (beta * was.getAtIndex(F32, i)));
                    }
                }
                if (d != null) {
                    for (long i = 0; i < d.count(); i++) {
                        long p = d.position(i);
                        float change = dt.getFloat(d.values(), i) - dt.getFloat(base, p);
                        vel.setAtIndex(F32, p, vel.getAtIndex(F32, p) + change);
                    }
                }
                v.put(t.name(), vel);
                changes.put(t.name(), changesOf(t, base, vel, eta, arena));
            }
            changes.values().removeIf(c -> c.count() == 0);
            return new Step(branch, new Velocity(arena, v), changes);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static SparseTensorDelta changesOf(TensorInfo t, MemorySegment base, MemorySegment vel, double eta, Arena arena) {
        long n = t.numel();
        DType dt = t.dtype();
        long count = 0;
        for (long i = 0; i < n; i++) {
            if (vel.getAtIndex(F32, i) != 0) {
                count++;
            }
        }
        MemorySegment positions = arena.allocate(Math.max(1, count) * Long.BYTES, 8);
        MemorySegment values = arena.allocate(Math.max(1, count) * dt.byteSize(), 8);
        MemorySegment one = arena.allocate(dt.byteSize(), 8);
        long at = 0;
        for (long i = 0; i < n; i++) {
            float vi = vel.getAtIndex(F32, i);
            if (vi == 0) {
                continue;
            }
            dt.setFloat(one, 0, (float) (dt.getFloat(base, i) + eta * vi));
            if (MemorySegment.mismatch(one, 0, dt.byteSize(), base, i * dt.byteSize(), (i + 1) * dt.byteSize()) < 0) {
                continue; // rounds back to the head's value
            }
            positions.setAtIndex(SparseTensorDelta.POSITION, at, i);
            MemorySegment.copy(one, 0, values, at * dt.byteSize(), dt.byteSize());
            at++;
        }
        return new SparseTensorDelta(t, SparseTensorDelta.Semantics.SET, at, positions, values);
    }

    @Override
    public void close() {
        byBranch.values().forEach(v -> v.arena().close());
        byBranch.clear();
    }
}
