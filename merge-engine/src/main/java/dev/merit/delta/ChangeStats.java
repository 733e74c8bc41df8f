package dev.merit.delta;

import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Compares two versions of a model tensor by tensor, streaming over the tensors' memory segments
 * in blocks on both cores. Memory use does not grow with the model: a few small buffers per
 * worker and a handful of numbers per block.
 */
public final class ChangeStats {

    private ChangeStats() {}

    /** Compares every tensor the two versions share; see {@link ChangeSummary}. */
    public static ChangeSummary compare(TensorSource before, TensorSource after) {
        List<TensorPair> pairs = new ArrayList<>();
        List<String> added = new ArrayList<>();
        List<String> removed = new ArrayList<>();
        List<ChangeSummary.LayoutChange> layout = new ArrayList<>();
        for (TensorInfo b : before.tensors()) {
            Optional<TensorInfo> a = after.info(b.name());
            if (a.isEmpty()) {
                removed.add(b.name());
            } else if (!a.get().sameLayout(b)) {
                layout.add(new ChangeSummary.LayoutChange(b, a.get()));
            } else {
                pairs.add(new TensorPair(b, before.data(b.name()), after.data(b.name())));
            }
        }
        for (TensorInfo a : after.tensors()) {
            if (before.info(a.name()).isEmpty()) {
                added.add(a.name());
            }
        }
        return new ChangeSummary(compare(pairs), added, removed, layout);
    }

    /** Compares one tensor held in two segments of {@code info.byteSize()} bytes each. */
    public static TensorChange compare(TensorInfo info, MemorySegment before, MemorySegment after) {
        return compare(List.of(new TensorPair(info, before, after))).getFirst();
    }

    /** Compares each pair; the result is in the pairs' order. */
    public static List<TensorChange> compare(List<TensorPair> pairs) {
        List<Blocks.Block> blocks = Blocks.split(pairs);
        int nb = blocks.size();
        long[] changed = new long[nb];
        long[] nonFinite = new long[nb];
        double[] changeSq = new double[nb];
        double[] beforeSq = new double[nb];
        double[] maxAbs = new double[nb];
        Blocks.forEach(nb, Blocks.shareable(pairs), (c, b) -> {
            Blocks.Block block = blocks.get(b);
            long ch = 0, nf = 0;
            double cs = 0, bs = 0, mx = 0;
            c.start(pairs.get(block.tensor()), block);
            while (c.next()) {
                for (int i = 0; i < c.n; i++) {
                    double v = c.before[i];
                    if (Double.isFinite(v)) {
                        bs += v * v;
                    }
                    if (c.differs(i)) {
                        ch++;
                        double d = c.change(i);
                        if (Double.isFinite(d)) {
                            cs += d * d;
                            mx = Math.max(mx, Math.abs(d));
                        } else {
                            nf++;
                        }
                    }
                }
            }
            changed[b] = ch;
            nonFinite[b] = nf;
            changeSq[b] = cs;
            beforeSq[b] = bs;
            maxAbs[b] = mx;
        });
        List<TensorChange> out = new ArrayList<>(pairs.size());
        int b = 0;
        for (int t = 0; t < pairs.size(); t++) {
            long ch = 0, nf = 0;
            double cs = 0, bs = 0, mx = 0;
            for (; b < nb && blocks.get(b).tensor() == t; b++) {
                ch += changed[b];
                nf += nonFinite[b];
                cs += changeSq[b];
                bs += beforeSq[b];
                mx = Math.max(mx, maxAbs[b]);
            }
            TensorInfo info = pairs.get(t).info();
            out.add(new TensorChange(info.name(), info.numel(), ch, nf, Math.sqrt(cs), Math.sqrt(bs), mx));
        }
        return out;
    }
}
