package dev.merit.cli;

import dev.merit.error.InvalidInputException;
import dev.merit.remote.RemoteTrust;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --ca FILE} and {@code --pin sha256:HEX}: how to trust a {@code merits://} coordinator's certificate. */
final class TrustOptions {

    @Option(names = "--ca", paramLabel = "FILE",
            description = "TLS: trust the certificate authorities of this PEM file (chain and host name are verified); kept with the remote.")
    Path ca;

    @Option(names = "--pin", paramLabel = "sha256:HEX",
            description = "TLS: trust exactly the certificate with this SHA-256 fingerprint (as merit serve prints it); kept with the remote.")
    String pin;

    /** The system's authorities unless --ca or --pin was given; both together are refused. */
    RemoteTrust trust(BaseCommand command) {
        if (ca != null && pin != null) {
            throw new InvalidInputException("--ca and --pin exclude each other: verify with a CA file or pin one certificate");
        }
        if (ca != null) {
            return RemoteTrust.caFile(command.path(ca));
        }
        if (pin != null) {
            return RemoteTrust.pin(pin);
        }
        return RemoteTrust.system();
    }

    String describe(RemoteTrust t) {
        return switch (t) {
            case RemoteTrust.SystemCas s -> "";
            case RemoteTrust.CaCertificates c -> " (TLS verified with " + ca + ")";
            case RemoteTrust.Pin p -> " (TLS pinned to " + p + ")";
        };
    }
}
