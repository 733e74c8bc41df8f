package dev.merit.cli;

import picocli.CommandLine;

final class VersionProvider implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
        String v = Main.class.getPackage().getImplementationVersion();
        return new String[] {"merit " + (v == null ? "dev" : v) + " (Java " + System.getProperty("java.version") + ")"};
    }
}
