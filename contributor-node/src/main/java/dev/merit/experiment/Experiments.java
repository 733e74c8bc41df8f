package dev.merit.experiment;

import com.fasterxml.jackson.databind.JsonNode;
import dev.merit.error.InvalidInputException;
import dev.merit.train.MaskedTrainer;
import dev.merit.train.data.DataDir;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** The entry point of {@code merit experiment}. */
public final class Experiments {

    /** What a run produced: its tables, its JSON and the files written. */
    public record Outcome(String markdown, JsonNode json, List<Path> files) {}

    private Experiments() {}

    public static Outcome run(String which, int seeds, Path out, Path data, boolean quick, List<String> models, List<String> optimizers,
                              PrintWriter progress) throws Exception {
        Config cfg = quick ? Config.quick() : Config.standard();
        Lab lab = new Lab(DataDir.of(data), cfg.testExamples());
        long t0 = System.nanoTime();
        Results r = switch (which.toLowerCase(Locale.ROOT)) {
            case "q1" -> new MergeExperiment(lab, cfg, progress).q1(seeds, out);
            case "q4" -> new MergeExperiment(lab, cfg, progress, data).q4(seeds, out);
            case "q2" -> new SparseExperiment(lab, cfg, progress).q2(seeds,
                    models == null || models.isEmpty() ? List.of(cfg.model(), cfg.cnn()) : models,
                    (optimizers == null ? List.of("sgd", "adam") : optimizers).stream().map(MaskedTrainer.Optimizer::parse).toList());
            // q3 starts coordinators, which only the CLI can: CollaborationExperiment.run, from merit experiment q3.
            case "q3" -> throw new InvalidInputException("experiment q3 runs through CollaborationExperiment.run (merit experiment q3)");
            default -> throw new InvalidInputException("experiment must be q1, q2, q3 or q4, got '" + which + "'");
        };
        r.config().put("seeds", seeds);
        r.config().put("seconds", Math.round((System.nanoTime() - t0) / 1e9));
        List<Path> files = r.write(out);
        return new Outcome(r.markdown(), r.json(), files);
    }
}
