package dev.merit.remote;

import java.security.cert.CertificateException;
import java.util.Optional;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;

/** Turns a failed TLS handshake, buried in a channel's UNAVAILABLE status, into one sentence a person can act on. */
final class TlsFailure {

    private TlsFailure() {}

    /**
     * A plain-text client that reaches a TLS port sees the connection simply close (the server's
     * TLS layer drops bytes that are not a handshake): for a plain channel that is the likely cause.
     */
    static Optional<String> describe(Throwable failure, String description, Optional<Boolean> tls) {
        if (tls.equals(Optional.of(false)) && description.startsWith("Network closed for unknown reason")) {
            return Optional.of("the coordinator closed the connection at once; if it serves TLS, use merits://HOST:PORT (with --ca or --pin)");
        }
        return describe(failure);
    }

    static Optional<String> describe(Throwable failure) {
        CertificateException cert = null;
        SSLException ssl = null;
        String notTls = null;
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof RemoteChannels.PinMismatch pin) {
                return Optional.of(pin.getMessage());
            }
            if (t instanceof CertificateException c && cert == null) {
                cert = c;
            }
            if (t.getClass().getSimpleName().equals("NotSslRecordException")) {
                notTls = "the coordinator does not speak TLS (is it a merit:// remote?)";
            }
            if (t instanceof SSLException s && ssl == null) {
                ssl = s;
            }
        }
        if (notTls != null) {
            return Optional.of(notTls);
        }
        if (cert != null) {
            String why = cert.getMessage() != null && cert.getMessage().contains("unable to find valid certification path")
                    ? "it is not issued by a trusted CA (the remote's --ca file, else the system's)" : cert.getMessage();
            return Optional.of("the coordinator's TLS certificate is not trusted: " + why
                    + " (check --ca, or pin the certificate with --pin sha256:HEX)");
        }
        if (ssl instanceof SSLHandshakeException) {
            return Optional.of("TLS handshake failed: " + ssl.getMessage());
        }
        return Optional.empty();
    }
}
