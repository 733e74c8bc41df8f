package dev.merit.bench.codec;

import dev.merit.codec.DecodeOptions;
import dev.merit.codec.DeltaCodec;
import dev.merit.codec.EncodeOptions;
import dev.merit.codec.EncodeResult;
import dev.merit.codec.EncodeStats;
import dev.merit.codec.ValueCoding;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Size and speed of the delta codec on a 100M-parameter model (24 blocks of four 1024x1024
 * matrices plus a 4096x1024 embedding) with uniformly placed ADD changes ~ N(0, 0.01) at several
 * densities. Reports position bits over log2 C(n, k), total size against dense float32, and
 * encode / decode throughput (tensors in parallel). Arguments: densities in percent (default
 * 0.1 0.5 1 5). Results and the command are in benchmarks/README.md.
 */
public final class CodecBenchmark {

    public static void main(String[] args) {
        double[] densities = args.length == 0 ? new double[] {0.1, 0.5, 1, 5} : java.util.Arrays.stream(args).mapToDouble(Double::parseDouble).toArray();
        List<TensorInfo> model = new ArrayList<>();
        model.add(TensorInfo.of("embed", DType.F32, 4096, 1024));
        for (int b = 0; b < 24; b++) {
            for (String m : new String[] {"q", "k", "v", "o"}) {
                model.add(TensorInfo.of("blocks." + b + "." + m, DType.F32, 1024, 1024));
            }
        }
        long params = model.stream().mapToLong(TensorInfo::numel).sum();
        System.out.printf(Locale.ROOT, "model: %d tensors, %,d parameters, dense float32 %.1f MB, %d cores%n",
                model.size(), params, params * 4 / 1e6, Runtime.getRuntime().availableProcessors());
        System.out.println("| density | values | position bits / log2 C(n,k) | bytes | vs dense f32 | encode M entries/s | decode M entries/s |");
        System.out.println("|---|---|---|---|---|---|---|");
        for (double pct : densities) {
            try (Arena arena = Arena.ofShared()) {
                List<SparseTensorDelta> deltas = IntStream.range(0, model.size()).parallel()
                        .mapToObj(i -> random(model.get(i), pct / 100, 1000L * i + (long) (pct * 1000), arena)).toList();
                long entries = deltas.stream().mapToLong(SparseTensorDelta::count).sum();
                for (ValueCoding v : new ValueCoding[] {ValueCoding.EXACT, ValueCoding.FP16, ValueCoding.BF16, ValueCoding.INT8}) {
                    EncodeOptions o = EncodeOptions.defaults().withValues(v).withZstd(!Boolean.getBoolean("codec.noZstd"));
                    long enc = Long.MAX_VALUE, dec = Long.MAX_VALUE;
                    List<EncodeResult> rs = null;
                    for (int rep = 0; rep < 4; rep++) { // best of 4; the first runs warm the JIT
                        try (Arena scratch = Arena.ofShared()) {
                            long t0 = System.nanoTime();
                            List<EncodeResult> got = run(deltas, o, rep == 3 ? arena : scratch);
                            long t1 = System.nanoTime();
                            got.parallelStream().forEach(r -> {
                                try (Arena out = Arena.ofConfined()) {
                                    DeltaCodec.decode(r.encoded(), DecodeOptions.defaults(), out);
                                }
                            });
                            long t2 = System.nanoTime();
                            enc = Math.min(enc, t1 - t0);
                            dec = Math.min(dec, t2 - t1);
                            rs = got;
                        }
                    }
                    double posBits = 0, bound = 0;
                    long bytes = 0;
                    for (EncodeResult r : rs) {
                        EncodeStats s = r.stats();
                        posBits += s.positionBits();
                        bound += s.positionBound();
                        bytes += s.totalBytes();
                    }
                    System.out.printf(Locale.ROOT, "| %.1f%% | %s | %.4f | %,d | %.0fx | %.0f | %.0f |%n", pct, v.name().toLowerCase(Locale.ROOT),
                            posBits / bound, bytes, params * 4.0 / bytes, entries / (enc / 1e3), entries / (dec / 1e3));
                }
            }
        }
    }

    private static List<EncodeResult> run(List<SparseTensorDelta> deltas, EncodeOptions o, Arena arena) {
        return deltas.parallelStream().map(d -> DeltaCodec.encode(d, o, arena)).toList();
    }

    private static SparseTensorDelta random(TensorInfo info, double density, long seed, Arena arena) {
        SplittableRandom rnd = new SplittableRandom(seed);
        long n = info.numel(), k = Math.round(density * n);
        MemorySegment pos = arena.allocate(k * 8, 8), vals = arena.allocate(k * 4, 8);
        long chosen = 0;
        for (long i = 0; i < n && chosen < k; i++) {
            if (rnd.nextLong(n - i) < k - chosen) {
                pos.setAtIndex(SparseTensorDelta.POSITION, chosen, i);
                double u = rnd.nextDouble(), w = rnd.nextDouble();
                vals.setAtIndex(SparseTensorDelta.ADD_VALUE, chosen, (float) (0.01 * Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * w)));
                chosen++;
            }
        }
        return new SparseTensorDelta(info, SparseTensorDelta.Semantics.ADD, k, pos, vals);
    }
}
