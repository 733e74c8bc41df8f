package dev.merit.merge.recipe;

import dev.merit.error.InvalidInputException;
import dev.merit.error.MeritException;
import dev.merit.merge.MergeInput;
import dev.merit.merge.MergeResult;
import dev.merit.merge.Merger;
import dev.merit.merge.ProgressListener;
import dev.merit.safetensors.Safetensors;
import dev.merit.tensor.TensorSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * Runs a {@link Recipe}: opens its files or revisions through a resolver, checks them all, then
 * merges into the output file.
 *
 * <pre>{@code
 * MergeResult r = MergeRunner.run(Recipe.load(path), path.getParent(), ProgressListener.NONE);
 * MergeResult r2 = MergeRunner.withResolver(store::materialize, dir).output(out).statistics(true).run(recipe);
 * }</pre>
 *
 * A reference the resolver cannot open, or a file that is not valid safetensors, is an
 * {@link InvalidInputException} naming the recipe field and the reference.
 */
public final class MergeRunner {

    private final Function<String, TensorSource> resolver;
    private final Path dir;
    private Path output;
    private boolean statistics;
    private int threads = Runtime.getRuntime().availableProcessors();
    private int blockSize = Merger.DEFAULT_BLOCK_SIZE;
    private ProgressListener progress = ProgressListener.NONE;

    private MergeRunner(Function<String, TensorSource> resolver, Path dir) {
        this.resolver = Objects.requireNonNull(resolver, "resolver");
        this.dir = dir;
    }

    /** Resolves references as safetensors files (or sharded indexes) relative to {@code dir}. */
    public static MergeRunner files(Path dir) {
        return new MergeRunner(ref -> Safetensors.open(dir.resolve(ref)), dir);
    }

    /** Resolves references with {@code resolver} (e.g. revisions from a store); {@code dir} anchors a relative output path. */
    public static MergeRunner withResolver(Function<String, TensorSource> resolver, Path dir) {
        return new MergeRunner(resolver, dir);
    }

    /** The picocli-free entry point: file references relative to {@code recipeDir}, output as the recipe says. */
    public static MergeResult run(Recipe recipe, Path recipeDir, ProgressListener progress) {
        return files(recipeDir).progress(progress).run(recipe);
    }

    /** Writes here instead of the recipe's {@code output} ({@code -o}). */
    public MergeRunner output(Path output) {
        this.output = output;
        return this;
    }

    public MergeRunner statistics(boolean on) {
        this.statistics = on;
        return this;
    }

    public MergeRunner threads(int threads) {
        this.threads = threads;
        return this;
    }

    public MergeRunner blockSize(int blockSize) {
        this.blockSize = blockSize;
        return this;
    }

    public MergeRunner progress(ProgressListener progress) {
        this.progress = Objects.requireNonNull(progress, "progress");
        return this;
    }

    /** Where the merge writes: the {@link #output} override, else the recipe's field resolved against the folder. */
    public Path outputPath(Recipe recipe) {
        if (output != null) {
            return output;
        }
        if (recipe.output() == null) {
            throw new InvalidInputException("recipe " + recipe.source() + ": no output (field 'output' or -o)");
        }
        return dir.resolve(recipe.output());
    }

    /** Opens everything, validates it, merges and closes the inputs. */
    public MergeResult run(Recipe recipe) {
        Path out = outputPath(recipe);
        List<TensorSource> opened = new ArrayList<>();
        try {
            Merger.Builder b = Merger.builder()
                    .strategy(recipe.strategy())
                    .parameters(recipe.parameters())
                    .outputDType(recipe.dtype())
                    .statistics(statistics)
                    .threads(threads)
                    .blockSize(blockSize)
                    .progress(progress)
                    .metadata(Map.of("merit.merge.recipe", recipe.source()));
            if (recipe.base() != null) {
                b.base(open(recipe, "base", recipe.base(), opened));
            }
            if (recipe.baseFisher() != null) {
                b.baseFisher(open(recipe, "base_fisher", recipe.baseFisher(), opened));
            }
            for (Recipe.Model m : recipe.models()) {
                TensorSource src = open(recipe, m.field() + (m.delta() ? ".delta" : ".model"), m.path(), opened);
                MergeInput in = m.delta() ? MergeInput.delta(m.path(), src) : MergeInput.model(m.path(), src);
                in = in.withWeight(m.weight());
                if (m.fisher() != null) {
                    in = in.withFisher(open(recipe, m.field() + ".fisher", m.fisher(), opened));
                }
                if (m.gram() != null) {
                    in = in.withGram(open(recipe, m.field() + ".gram", m.gram(), opened));
                }
                b.input(in);
            }
            for (Recipe.TensorRule r : recipe.tensors()) {
                b.rule(r.pattern(), r.strategy(), r.parameters());
            }
            Merger merger;
            try {
                merger = b.build();
            } catch (InvalidInputException e) {
                throw new InvalidInputException("recipe " + recipe.source() + ": " + e.getMessage(), e);
            }
            return merger.mergeTo(out);
        } finally {
            opened.forEach(TensorSource::close);
        }
    }

    private TensorSource open(Recipe recipe, String field, String ref, List<TensorSource> opened) {
        try {
            TensorSource s = resolver.apply(ref);
            opened.add(s);
            return s;
        } catch (MeritException e) {
            // Missing files are bad recipes too: the CLI maps InvalidInputException to exit code 4.
            throw new InvalidInputException("recipe " + recipe.source() + ": " + field + " '" + ref + "': " + e.getMessage(), e);
        }
    }
}
