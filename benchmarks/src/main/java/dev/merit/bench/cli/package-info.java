/** Start-up time of the {@code merit} command line against a JVM hello world. */
package dev.merit.bench.cli;
