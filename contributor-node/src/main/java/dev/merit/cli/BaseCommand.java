package dev.merit.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.merit.error.NotFoundException;
import dev.merit.store.ProgressListener;
import dev.merit.store.Repository;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * Shared plumbing of subcommands: the working directory ({@code -C}), output writers, the
 * repository, JSON and progress. Exceptions propagate to {@link Main}, which maps them to exit
 * codes and one-line messages.
 */
abstract class BaseCommand implements Callable<Integer> {

    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** The {@code merit} command with the global options; set before {@link #run}, also in nested subcommands. */
    MeritCommand root;

    @Spec
    CommandSpec spec;

    @Override
    public final Integer call() throws Exception {
        root = (MeritCommand) spec.root().userObject();
        return run();
    }

    abstract int run() throws Exception;

    PrintWriter out() {
        return spec.commandLine().getOut();
    }

    PrintWriter err() {
        return spec.commandLine().getErr();
    }

    Path workDir() {
        return root.workDir();
    }

    /** A user-given path, relative to the working directory. */
    Path path(Path p) {
        return workDir().resolve(p).normalize();
    }

    Path existingFile(Path p) {
        Path abs = path(p);
        if (!Files.exists(abs)) {
            throw new NotFoundException(p + ": no such file");
        }
        return abs;
    }

    Repository openRepository() {
        return Repository.open(workDir());
    }

    /** For commands that only read: opening takes no lock and writes nothing, so it starts faster. */
    Repository openRepositoryForReading() {
        return Repository.openForReading(workDir());
    }

    void printJson(JsonNode node) throws Exception {
        out().println(JSON.writeValueAsString(node));
        out().flush();
    }

    /** A progress bar on a terminal; nothing when quiet, when output is for scripts, or when redirected. */
    ProgressListener progress(boolean forScripts) {
        if (root.quiet || forScripts || System.console() == null || !System.console().isTerminal()) {
            return ProgressListener.NONE;
        }
        return new ConsoleProgress();
    }

    /** Progress of merges, shown like {@link #progress}. */
    dev.merit.merge.ProgressListener mergeProgress(boolean forScripts) {
        return progress(forScripts) instanceof ConsoleProgress c ? c.forMerges() : p -> {};
    }
}
