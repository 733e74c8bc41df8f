/** The {@code merit} command line: one small class per subcommand, exit codes and error messages mapped in {@link dev.merit.cli.Main}. */
package dev.merit.cli;
