package dev.merit.cli;

import dev.merit.error.InvalidInputException;
import dev.merit.error.MeritException;
import dev.merit.error.NotFoundException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/** Entry point of the {@code merit} command line. */
public final class Main {

    private Main() {}

    public static void main(String[] args) {
        // DJL logs routine steps at INFO; a command prints only what its user asked for.
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
        PrintWriter out = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
        PrintWriter err = new PrintWriter(System.err, true, StandardCharsets.UTF_8);
        int code = run(Path.of("").toAbsolutePath(), out, err, args);
        out.flush();
        err.flush();
        System.exit(code);
    }

    /** Runs one command in-process, as tests do: output goes to the given writers, the exit code is returned. */
    public static int run(Path cwd, PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = commandLine(cwd, args);
        cl.setOut(out);
        cl.setErr(err);
        return cl.execute(args);
    }

    /** The whole command tree, as {@code merit help} lists it. */
    static CommandLine commandLine(Path cwd) {
        return commandLine(cwd, new String[0]);
    }

    /**
     * The command tree for one run. Building picocli's model of a command costs reflection over its
     * class, so a run that names a known command gets only that one; help, unknown commands (for
     * suggestions) and a bare {@code merit} get all of them.
     */
    static CommandLine commandLine(Path cwd, String[] args) {
        CommandLine cl = new CommandLine(new MeritCommand(cwd));
        String named = commandName(args);
        boolean one = named != null && MeritCommand.SUBCOMMANDS.stream().anyMatch(c -> answersTo(c, named));
        for (Class<?> c : MeritCommand.SUBCOMMANDS) {
            // A command also listed in MeritCommand's @Command(subcommands) is there already (built eagerly).
            if ((!one || answersTo(c, named)) && !cl.getSubcommands().containsKey(c.getAnnotation(Command.class).name())) {
                cl.addSubcommand(c);
            }
        }
        if (!one) {
            cl.addSubcommand(new HelpCli());
        }
        cl.getSubcommands().values().forEach(Main::addHelpOption);
        // These settings reach the subcommands present now, so they come after adding them.
        cl.setHelpFactory(HelpWithDefaults::new);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (ex instanceof CommandLine.ParameterException usage) {
                return usageError(usage); // e.g. merit help NO-SUCH-COMMAND
            }
            cmd.getErr().println("merit: " + describe(ex));
            if (System.getenv("MERIT_DEBUG") != null) {
                ex.printStackTrace(cmd.getErr());
            }
            return exitCodeOf(ex);
        });
        cl.setParameterExceptionHandler((ex, unused) -> usageError(ex));
        cl.setExitCodeExceptionMapper(Main::exitCodeOf);
        return cl;
    }

    /** One line naming what was wrong, the closest valid spelling if there is one, and where the help is. */
    private static int usageError(CommandLine.ParameterException ex) {
        CommandLine cmd = ex.getCommandLine();
        cmd.getErr().println("merit: " + Suggestions.message(ex) + Suggestions.didYouMean(ex)
                + " (see '" + cmd.getCommandSpec().qualifiedName() + " --help')");
        return ExitCode.USAGE;
    }

    /** {@code -h, --help} on a command and its own subcommands (the root has it from its annotation). */
    private static void addHelpOption(CommandLine command) {
        CommandSpec spec = command.getCommandSpec();
        if (spec.options().stream().noneMatch(OptionSpec::usageHelp)) {
            spec.addOption(OptionSpec.builder("-h", "--help").usageHelp(true)
                    .description("Show this help message and exit.").build());
        }
        command.getSubcommands().values().forEach(Main::addHelpOption);
    }

    /** The subcommand a run names: the first argument that is not a global option (or its value). */
    static String commandName(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-C")) {
                i++; // -C DIR
            } else if (!a.startsWith("-")) {
                return a;
            }
        }
        return null;
    }

    private static boolean answersTo(Class<?> command, String name) {
        Command c = command.getAnnotation(Command.class);
        return c.name().equals(name) || List.of(c.aliases()).contains(name);
    }

    static int exitCodeOf(Throwable ex) {
        if (ex instanceof InvalidInputException) {
            return ExitCode.INVALID_INPUT;
        }
        if (ex instanceof NotFoundException) {
            return ExitCode.NOT_FOUND;
        }
        if (ex instanceof CommandLine.ParameterException) {
            return ExitCode.USAGE;
        }
        return ExitCode.FAILURE;
    }

    private static String describe(Throwable ex) {
        if (ex instanceof MeritException || ex instanceof UncheckedIOException) {
            return ex.getMessage();
        }
        return "internal error: " + ex + " (set MERIT_DEBUG=1 for the stack trace)";
    }
}
