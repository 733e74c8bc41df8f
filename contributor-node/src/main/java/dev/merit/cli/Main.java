package dev.merit.cli;

import dev.merit.error.InvalidInputException;
import dev.merit.error.MeritException;
import dev.merit.error.NotFoundException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import picocli.CommandLine;

/** Entry point of the {@code merit} command line. */
public final class Main {

    private Main() {}

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
        PrintWriter err = new PrintWriter(System.err, true, StandardCharsets.UTF_8);
        int code = run(Path.of("").toAbsolutePath(), out, err, args);
        out.flush();
        err.flush();
        System.exit(code);
    }

    /** Runs one command in-process, as tests do: output goes to the given writers, the exit code is returned. */
    public static int run(Path cwd, PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = commandLine(cwd);
        cl.setOut(out);
        cl.setErr(err);
        return cl.execute(args);
    }

    static CommandLine commandLine(Path cwd) {
        CommandLine cl = new CommandLine(new MeritCommand(cwd));
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println("merit: " + describe(ex));
            if (System.getenv("MERIT_DEBUG") != null) {
                ex.printStackTrace(cmd.getErr());
            }
            return exitCodeOf(ex);
        });
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine cmd = ex.getCommandLine();
            cmd.getErr().println("merit: " + ex.getMessage() + " (see '" + cmd.getCommandSpec().qualifiedName() + " --help')");
            return ExitCode.USAGE;
        });
        cl.setExitCodeExceptionMapper(Main::exitCodeOf);
        return cl;
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
