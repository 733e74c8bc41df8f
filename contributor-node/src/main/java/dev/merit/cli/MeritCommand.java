package dev.merit.cli;

import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

@Command(name = "merit",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        header = "Version, validate and merge community-trained model updates.",
        description = "A revision is a commit id (or a unique prefix of one), a branch, a tag, HEAD, or REV~N.",
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            "0:ok", "1:failure", "2:usage error", "3:not found (repository, revision, file)",
            "4:invalid input (a bad file or value)", "5:proposal rejected by the coordinator"})
final class MeritCommand {

    /**
     * The subcommands, in the order {@code merit help} lists them. {@link Main} builds picocli's
     * model only of the one a run names, so a new command is added here, not in {@code @Command}.
     */
    static final List<Class<?>> SUBCOMMANDS = List.of(
            InitCommand.class, CommitCli.class, StatusCommand.class, LogCommand.class, ShowCommand.class,
            DiffCommand.class, CheckoutCommand.class, BranchCommand.class, SwitchCommand.class, TagCommand.class,
            FsckCommand.class, GcCommand.class, MergeCli.class, DemoCommand.class,
            ServeCommand.class, RemoteCli.class, CloneCommand.class, PushCommand.class, PullCommand.class,
            ProposalsCommand.class, ReviewCommand.class, TokenCommand.class, KeyCommand.class, AdminCommand.class, WatchCommand.class,
            TrainCommand.class, EvalCommand.class, DaemonCommand.class, ExperimentCommand.class);

    final Path cwd;

    @Option(names = "-C", paramLabel = "DIR", scope = ScopeType.INHERIT,
            description = "Run as if merit was started in DIR.")
    Path directory;

    @Option(names = {"-q", "--quiet"}, scope = ScopeType.INHERIT, description = "No progress output.")
    boolean quiet;

    MeritCommand(Path cwd) {
        this.cwd = cwd;
    }

    Path workDir() {
        return directory == null ? cwd : cwd.resolve(directory).normalize();
    }
}
