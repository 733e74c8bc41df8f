package dev.merit.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.testing.TestModels;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/** Random models, Fisher files, sparse deltas and the numpy oracle shared by the merge tests. */
final class MergeFixtures {

    private MergeFixtures() {}

    /** Two small tensors, one spanning two default blocks, and an integer tensor that is copied. */
    static List<TensorInfo> layout(DType dt) {
        return List.of(TensorInfo.of("a.weight", dt, 37, 50), TensorInfo.of("a.bias", dt, 50),
                TensorInfo.of("b.weight", dt, 300, 70), TensorInfo.of("ids", DType.I64, 10));
    }

    static Path model(Path path, List<TensorInfo> layout, long seed) {
        TestModels m = TestModels.builder().seed(seed);
        layout.forEach(t -> m.tensor(t.name(), t.dtype(), t.shape()));
        return m.write(path);
    }

    /** The base with N(0, 0.1) noise on a fraction of entries (integer tensors untouched). */
    static Path perturbed(Path base, Path dst, double fraction, long seed) {
        TestModels.perturb(base, dst, fraction, seed);
        // TestModels.perturb bumps integer tensors; models must keep them equal to the base here.
        try (SafetensorsFile b = SafetensorsFile.open(base); SafetensorsFile p = SafetensorsFile.open(dst)) {
            Path tmp = dst.resolveSibling(dst.getFileName() + ".fix");
            try (SafetensorsWriter w = SafetensorsWriter.create(tmp, p.tensors(), p.metadata())) {
                for (TensorInfo t : p.tensors()) {
                    MemorySegment src = t.dtype().isFloatingPoint() ? p.data(t.name()) : b.data(t.name());
                    MemorySegment.copy(src, 0, w.segment(t.name()), 0, t.byteSize());
                }
                w.finish();
            }
            Files.move(tmp, dst, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return dst;
    }

    /** A Fisher file for the floating-point tensors: |N(0,1)|^2 with about 10% exact zeros. */
    static Path fisher(Path path, List<TensorInfo> layout, DType dt, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<TensorInfo> fl = layout.stream().filter(t -> t.dtype().isFloatingPoint())
                .map(t -> new TensorInfo(t.name(), dt, t.shape())).toList();
        try (SafetensorsWriter w = SafetensorsWriter.create(path, fl, Map.of())) {
            for (TensorInfo t : fl) {
                MemorySegment s = w.segment(t.name());
                for (long i = 0; i < t.numel(); i++) {
                    double g = rnd.nextGaussian();
                    dt.setDouble(s, i, rnd.nextDouble() < 0.1 ? 0 : g * g);
                }
            }
            w.finish();
        }
        return path;
    }

    /** Writes tensors given as float arrays (F32 unless the info says otherwise). */
    static Path write(Path path, List<TensorInfo> layout, Map<String, float[]> values) {
        try (SafetensorsWriter w = SafetensorsWriter.create(path, layout, Map.of())) {
            for (TensorInfo t : layout) {
                MemorySegment s = w.segment(t.name());
                float[] v = values.get(t.name());
                for (int i = 0; i < v.length; i++) {
                    t.dtype().setFloat(s, i, v[i]);
                }
            }
            w.finish();
        }
        return path;
    }

    static float[] read(Path path, String tensor) {
        try (SafetensorsFile f = SafetensorsFile.open(path)) {
            TensorInfo t = f.info(tensor).orElseThrow();
            float[] v = new float[Math.toIntExact(t.numel())];
            for (int i = 0; i < v.length; i++) {
                v[i] = t.dtype().getFloat(f.data(tensor), i);
            }
            return v;
        }
    }

    /** An in-memory sparse delta (ADD semantics) with Fisher on its support. */
    static final class Sparse implements SparseDeltaSource {
        final Arena arena = Arena.ofShared();
        final Map<String, SparseTensorDelta> deltas = new HashMap<>();
        final Map<String, MemorySegment> fishers = new HashMap<>();
        final Map<String, float[]> dense = new HashMap<>();
        final Map<String, float[]> mask = new HashMap<>();
        final Map<String, float[]> denseFisher = new HashMap<>();
        final List<TensorInfo> f32Layout = new ArrayList<>();
        final String name;
        final Set<String> released = java.util.concurrent.ConcurrentHashMap.newKeySet();

        Sparse(String name, List<TensorInfo> layout, double density, long seed) {
            this.name = name;
            SplittableRandom rnd = new SplittableRandom(seed);
            for (TensorInfo t : layout) {
                if (!t.dtype().isFloatingPoint()) {
                    continue;
                }
                int numel = Math.toIntExact(t.numel());
                float[] d = new float[numel];
                float[] m = new float[numel];
                float[] f = new float[numel];
                List<Integer> pos = new ArrayList<>();
                for (int i = 0; i < numel; i++) {
                    if (rnd.nextDouble() < density) {
                        pos.add(i);
                    }
                }
                MemorySegment ps = arena.allocate(8L * Math.max(1, pos.size()));
                MemorySegment vs = arena.allocate(4L * Math.max(1, pos.size()));
                MemorySegment fs = arena.allocate(4L * Math.max(1, pos.size()));
                for (int k = 0; k < pos.size(); k++) {
                    int p = pos.get(k);
                    float v = (float) (0.1 * rnd.nextGaussian());
                    double g = rnd.nextGaussian();
                    float fv = (float) (g * g);
                    ps.setAtIndex(SparseTensorDelta.POSITION, k, p);
                    vs.setAtIndex(SparseTensorDelta.ADD_VALUE, k, v);
                    fs.setAtIndex(SparseTensorDelta.ADD_VALUE, k, fv);
                    d[p] = v;
                    m[p] = 1;
                    f[p] = fv;
                }
                deltas.put(t.name(), new SparseTensorDelta(t, SparseTensorDelta.Semantics.ADD, pos.size(), ps, vs));
                fishers.put(t.name(), fs);
                dense.put(t.name(), d);
                mask.put(t.name(), m);
                denseFisher.put(t.name(), f);
                f32Layout.add(new TensorInfo(t.name(), DType.F32, t.shape()));
            }
        }

        @Override
        public Set<String> tensorNames() {
            return deltas.keySet();
        }

        @Override
        public Optional<SparseTensorDelta> delta(String tensor) {
            return Optional.ofNullable(deltas.get(tensor));
        }

        @Override
        public Optional<MemorySegment> fisher(String tensor) {
            return Optional.ofNullable(fishers.get(tensor));
        }

        @Override
        public boolean hasFisher() {
            return true;
        }

        @Override
        public void release(String tensor) {
            released.add(tensor);
        }

        @Override
        public String describe() {
            return name;
        }

        /** Dense delta, 0/1 mask and dense Fisher files for the numpy oracle. */
        Path[] writeDense(Path dir) {
            return new Path[] {
                write(dir.resolve(name + ".delta.safetensors"), f32Layout, dense),
                write(dir.resolve(name + ".mask.safetensors"), f32Layout, mask),
                write(dir.resolve(name + ".fisher.safetensors"), f32Layout, denseFisher)};
        }
    }

    /** Runs the numpy oracle on {@code spec} (see merge_reference.py) and returns the expected file. */
    static Path reference(Path dir, Map<String, Object> spec) throws Exception {
        return reference(dir, "merge_reference.py", spec);
    }

    /** Runs the numpy oracle {@code scriptName} (a test resource beside this class) on {@code spec}. */
    static Path reference(Path dir, String scriptName, Map<String, Object> spec) throws Exception {
        Path script = dir.resolve(scriptName);
        if (!Files.exists(script)) {
            try (InputStream in = MergeFixtures.class.getResourceAsStream(scriptName)) {
                Files.copy(in, script);
            }
        }
        Path out = Files.createTempFile(dir, "expected", ".safetensors");
        Map<String, Object> s = new HashMap<>(spec);
        s.put("out", out.toString());
        Path specFile = Files.createTempFile(dir, "spec", ".json");
        new ObjectMapper().writeValue(specFile.toFile(), s);
        Process p = new ProcessBuilder("/usr/bin/python3", script.toString(), specFile.toString())
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            fail("numpy reference failed: " + log);
        }
        return out;
    }

    /**
     * Every floating-point tensor of {@code expected} is in {@code actual} within atol + rtol * |expected|,
     * and {@code actual} has no floating-point tensor the oracle did not compute.
     */
    static void assertClose(Path expected, Path actual, double atol, double rtol) {
        try (SafetensorsFile e = SafetensorsFile.open(expected); SafetensorsFile a = SafetensorsFile.open(actual)) {
            for (TensorInfo t : a.tensors()) {
                if (t.dtype().isFloatingPoint() && e.info(t.name()).isEmpty()) {
                    fail("tensor '" + t.name() + "' is in the output but not in the reference");
                }
            }
            for (TensorInfo t : e.tensors()) {
                TensorInfo at = a.info(t.name()).orElseThrow();
                assertEquals(t.numel(), at.numel(), t.name());
                for (long i = 0; i < t.numel(); i++) {
                    double x = t.dtype().getDouble(e.data(t.name()), i);
                    double y = at.dtype().getDouble(a.data(t.name()), i);
                    if (!(Math.abs(x - y) <= atol + rtol * Math.abs(x))) {
                        fail("tensor '" + t.name() + "' entry " + i + ": expected " + x + " got " + y);
                    }
                }
            }
        }
    }
}
