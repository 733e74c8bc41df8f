/** {@code merit serve}: the coordinator's own program, started by the launcher on the coordinator's classpath. */
package dev.merit.coordinator.cli;
