package dev.merit.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

/** {@code merit help [COMMAND [SUBCOMMAND...]]}: the same text as {@code merit COMMAND SUBCOMMAND --help}. */
@Command(name = "help", helpCommand = true, header = "Show the help of merit or of a command: help COMMAND [SUBCOMMAND].")
final class HelpCli implements Callable<Integer> {

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(arity = "0..*", paramLabel = "COMMAND", description = "A command and its subcommands, e.g. remote add.")
    List<String> names = new ArrayList<>();

    @Override
    public Integer call() {
        CommandLine command = spec.root().commandLine();
        for (String name : names) {
            CommandLine sub = command.getSubcommands().get(name);
            if (sub == null) {
                // The same "did you mean" as for a mistyped command.
                throw new UnmatchedArgumentException(command, List.of(name));
            }
            command = sub;
        }
        command.usage(spec.commandLine().getOut());
        return ExitCode.OK;
    }
}
