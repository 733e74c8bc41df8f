package dev.merit.cli;

/** The exit codes of every merit command. */
final class ExitCode {
    static final int OK = 0;
    static final int FAILURE = 1;
    static final int USAGE = 2;
    static final int NOT_FOUND = 3;
    static final int INVALID_INPUT = 4;
    /** A proposal the coordinator rejected. */
    static final int REJECTED = 5;

    private ExitCode() {}
}
