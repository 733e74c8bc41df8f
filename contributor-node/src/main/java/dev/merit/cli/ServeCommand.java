package dev.merit.cli;

import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/**
 * Listed here so {@code merit --help} shows it; the launcher runs {@code merit serve} on the
 * coordinator's own classpath ({@code dev.merit.coordinator.cli.CoordinatorMain}). Reached only
 * when this program is started directly: it hands the arguments to the launcher.
 */
@Command(name = "serve", header = "Run a coordinator: contributors push proposals to it, it validates and merges them.",
        description = {"Runs the coordinator's own program; 'merit help serve' lists its options."})
final class ServeCommand extends BaseCommand {

    @Unmatched
    List<String> args = new ArrayList<>();

    @Override
    int run() throws InterruptedException {
        return CoordinatorProcess.runInForeground(workDir(), args);
    }
}
