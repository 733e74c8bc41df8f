package dev.merit.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.error.InvalidInputException;
import dev.merit.error.NotFoundException;
import dev.merit.merge.MergeInput;
import dev.merit.merge.MergeParameters;
import dev.merit.merge.MergeResult;
import dev.merit.merge.MergeStatistics;
import dev.merit.merge.Merger;
import dev.merit.merge.Strategy;
import dev.merit.merge.recipe.MergeRunner;
import dev.merit.merge.recipe.Recipe;
import dev.merit.safetensors.Safetensors;
import dev.merit.store.MergeCommand;
import dev.merit.store.Repository;
import dev.merit.tensor.TensorSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "merge", header = "Merge models: files and revisions from a recipe, or revisions into a merge commit.",
        description = {
            "merit merge --recipe FILE.yaml [-o OUT]: merge as the recipe says (see docs/merging.md); models",
            "  may be files (relative to the recipe) or revisions of the repository here.",
            "merit merge REV... --strategy S [--weights W,...] [-m MSG]: merge the revisions' changes since",
            "  their merge base into a new commit on the current branch, from the stored sparse deltas;",
            "  regmean uses the Gram matrices stored with each revision (merit train --regmean).",
            "merit merge FILE... --strategy S [--base FILE] [--gram FILE]... -o OUT: merge model files;",
            "  regmean takes one --gram file per model, in order."})
final class MergeCli extends BaseCommand {

    @Option(names = "--recipe", paramLabel = "FILE.yaml", description = "Merge the files and revisions this recipe lists.")
    Path recipe;

    @Option(names = {"-o", "--output"}, paramLabel = "OUT.safetensors", description = "Output file (overrides the recipe's).")
    Path output;

    @Parameters(arity = "0..*", paramLabel = "REV", description = "Revisions to merge into a merge commit (without --recipe).")
    List<String> revisions = new ArrayList<>();

    @Option(names = "--strategy", paramLabel = "S", defaultValue = "average",
            description = "average, fisher, task-arithmetic, ties, dare, median, trimmed-mean, krum, multi-krum, regmean (default ${DEFAULT-VALUE}).")
    String strategy;

    @Option(names = "--weights", split = ",", paramLabel = "W", description = "One weight per revision.")
    List<Double> weights = new ArrayList<>();

    @Option(names = {"-p", "--param"}, paramLabel = "NAME=VALUE", description = "A strategy parameter, e.g. -p fisher_floor=1e-6.")
    Map<String, String> params = new LinkedHashMap<>();

    @Option(names = "--base", paramLabel = "REV", description = "Merge changes relative to REV instead of the merge base (with FILE inputs: a base file).")
    String base;

    @Option(names = "--gram", paramLabel = "FILE", description = "Gram matrices of one model's linear-layer inputs (regmean), one per FILE input, in order.")
    List<Path> grams = new ArrayList<>();

    @Option(names = {"-m", "--message"}, description = "Message of the merge commit.")
    String message;

    @Option(names = "--explain", description = "Print merge statistics: supports, overlap, sign agreement, cosines, norms.")
    boolean explain;

    @Option(names = "--json", description = "Print one JSON document.")
    boolean json;

    @Override
    int run() throws Exception {
        if (recipe != null) {
            if (!revisions.isEmpty()) {
                throw new InvalidInputException("give either --recipe or revisions, not both");
            }
            return runRecipe();
        }
        if (revisions.isEmpty()) {
            throw new InvalidInputException("merge needs --recipe FILE or at least one revision");
        }
        if (revisions.stream().allMatch(r -> Files.isRegularFile(path(Path.of(r))))) {
            return runFiles();
        }
        if (!grams.isEmpty()) {
            throw new InvalidInputException("--gram goes with model files; '" + revisions.stream()
                    .filter(r -> !Files.isRegularFile(path(Path.of(r)))).findFirst().orElseThrow() + "' is not a file");
        }
        try (Repository repo = openRepository()) {
            MergeCommand.Result r = repo.merge().setRevisions(revisions).setWeights(weights)
                    .setStrategy(Strategy.parse(strategy)).setParameters(parsedParams()).setMessage(message)
                    .setBase(base).setStatistics(explain).setProgress(mergeProgress(json)).call();
            if (json) {
                ObjectNode n = JSON.createObjectNode();
                n.put("commit", r.commit().id().name());
                n.put("base", r.base().name());
                n.put("strategy", Strategy.parse(strategy).id());
                n.put("stored_bytes", r.commit().commit().storedBytes());
                r.merge().statistics().ifPresent(s -> n.set("statistics", JSON.valueToTree(s)));
                printJson(n);
                return ExitCode.OK;
            }
            out().printf("[%s %s] %s%n", repo.currentBranch(), r.commit().id().abbreviate(12), r.commit().commit().message());
            out().printf("merged %d revisions with %s from base %s; stored %s%n", revisions.size(),
                    Strategy.parse(strategy).id(), r.base().abbreviate(12), Format.bytes(r.commit().commit().storedBytes()));
            r.merge().statistics().ifPresent(this::printStatistics);
        }
        return ExitCode.OK;
    }

    /** merit merge FILE... : models from files, written to -o. */
    private int runFiles() throws Exception {
        if (output == null) {
            throw new InvalidInputException("merging files needs -o OUT.safetensors");
        }
        if (!grams.isEmpty() && grams.size() != revisions.size()) {
            throw new InvalidInputException("--gram given " + grams.size() + " times for " + revisions.size() + " model files; give one per model");
        }
        if (!weights.isEmpty() && weights.size() != revisions.size()) {
            throw new InvalidInputException("--weights has " + weights.size() + " values for " + revisions.size() + " model files");
        }
        Strategy s = Strategy.parse(strategy);
        List<TensorSource> opened = new ArrayList<>();
        try {
            Merger.Builder b = Merger.builder().strategy(s).parameters(MergeParameters.defaults().with(parsedParams()))
                    .statistics(explain).progress(mergeProgress(json));
            if (base != null) {
                b.base(open(existingFile(Path.of(base)), opened));
            }
            for (int i = 0; i < revisions.size(); i++) {
                String f = revisions.get(i);
                MergeInput in = MergeInput.model(f, open(existingFile(Path.of(f)), opened));
                if (!weights.isEmpty()) {
                    in = in.withWeight(weights.get(i));
                }
                if (!grams.isEmpty()) {
                    in = in.withGram(open(existingFile(grams.get(i)), opened));
                }
                b.input(in);
            }
            Path out = path(output);
            MergeResult r = b.build().mergeTo(out);
            if (json) {
                ObjectNode n = JSON.createObjectNode();
                n.put("output", out.toString());
                n.put("strategy", s.id());
                n.put("tensors", r.tensors());
                n.put("bytes", r.bytes());
                n.put("seconds", r.nanos() / 1e9);
                r.statistics().ifPresent(st -> n.set("statistics", JSON.valueToTree(st)));
                printJson(n);
                return ExitCode.OK;
            }
            out().printf("merged %d models with %s into %s (%d tensors, %.2f s)%n", revisions.size(), s.id(), out,
                    r.tensors(), r.nanos() / 1e9);
            r.statistics().ifPresent(this::printStatistics);
            return ExitCode.OK;
        } finally {
            opened.forEach(TensorSource::close);
        }
    }

    private static TensorSource open(Path p, List<TensorSource> opened) {
        TensorSource s = Safetensors.open(p);
        opened.add(s);
        return s;
    }

    private Map<String, Object> parsedParams() {
        Map<String, Object> out = new LinkedHashMap<>();
        params.forEach((k, v) -> {
            if (v.equalsIgnoreCase("true") || v.equalsIgnoreCase("false")) {
                out.put(k, Boolean.parseBoolean(v));
            } else {
                try {
                    out.put(k, Double.parseDouble(v));
                } catch (NumberFormatException e) {
                    out.put(k, v);
                }
            }
        });
        return out;
    }

    private int runRecipe() throws Exception {
        Path recipePath = existingFile(recipe);
        Path recipeDir = recipePath.getParent();
        Recipe parsed = Recipe.load(recipePath);
        Repository[] repo = {null};
        try {
            MergeRunner runner = MergeRunner.withResolver(ref -> resolve(ref, recipeDir, repo), recipeDir)
                    .statistics(explain).progress(mergeProgress(json));
            if (output != null) {
                runner.output(path(output));
            }
            MergeResult r = runner.run(parsed);
            Path out = output != null ? path(output) : runner.outputPath(parsed);
            if (json) {
                ObjectNode n = JSON.createObjectNode();
                n.put("output", out.toString());
                n.put("strategy", parsed.strategy().id());
                n.put("tensors", r.tensors());
                n.put("bytes", r.bytes());
                n.put("seconds", r.nanos() / 1e9);
                r.statistics().ifPresent(s -> n.set("statistics", JSON.valueToTree(s)));
                printJson(n);
                return ExitCode.OK;
            }
            out().printf("merged %d tensors into %s in %.2f s (%s/s)%n", r.tensors(), out, r.nanos() / 1e9,
                    Format.bytes((long) r.bytesPerSecond()));
            r.statistics().ifPresent(this::printStatistics);
        } finally {
            if (repo[0] != null) {
                repo[0].close();
            }
        }
        return ExitCode.OK;
    }

    /** A recipe reference: a file next to the recipe, else a revision of the repository here. */
    private TensorSource resolve(String ref, Path recipeDir, Repository[] repo) {
        Path p = recipeDir.resolve(ref).normalize();
        if (Files.isRegularFile(p)) {
            return Safetensors.open(p);
        }
        if (repo[0] == null) {
            try {
                repo[0] = openRepository();
            } catch (NotFoundException e) {
                throw new NotFoundException("'" + ref + "' is not a file next to the recipe, and there is no repository to resolve it as a revision");
            }
        }
        return repo[0].openVersion(repo[0].resolve(ref));
    }

    private void printStatistics(MergeStatistics s) {
        var o = s.overall();
        out().println();
        out().println("inputs: " + String.join(", ", s.inputs()));
        for (int i = 0; i < s.inputs().size(); i++) {
            out().printf("  %-20s support %d of %d entries, change norm %s%n", s.inputs().get(i), o.support().get(i), o.numel(),
                    Format.num(o.norms().get(i)));
        }
        for (MergeStatistics.PairStatistics p : o.pairs()) {
            out().printf("  %s x %s: overlap %d, sign agreement %s, cosine %s%n", s.inputs().get(p.a()), s.inputs().get(p.b()),
                    p.overlap(), Format.percent(p.signAgreement()), Format.num(p.cosine()));
        }
    }
}
