package dev.merit.remote;

import dev.merit.error.MeritException;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslProvider;
import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The one place a channel to a coordinator is built: every remote command and the daemon
 * connect through here, so plain text, CA verification and pinning behave the same everywhere.
 */
public final class RemoteChannels {

    private RemoteChannels() {}

    /** A channel to {@code remote}: plain text for {@code merit://}, TLS checked by its trust for {@code merits://}. */
    public static ManagedChannel open(Remote remote) {
        NettyChannelBuilder b = NettyChannelBuilder.forTarget(remote.target());
        if (!remote.tls()) {
            return b.usePlaintext().build();
        }
        SslContextBuilder ssl = GrpcSslContexts.configure(SslContextBuilder.forClient(), SslProvider.JDK);
        switch (remote.trust()) {
            case RemoteTrust.SystemCas s -> { }
            case RemoteTrust.CaCertificates ca -> ssl.trustManager(ca.certificates());
            case RemoteTrust.Pin pin -> ssl.trustManager(new PinnedTrust(pin));
        }
        try {
            return b.useTransportSecurity().sslContext(ssl.build()).build();
        } catch (SSLException e) {
            throw new MeritException("cannot set up TLS for " + remote.url() + ": " + e.getMessage(), e);
        }
    }

    /** The certificate of a pin mismatch, for a message that names both fingerprints. */
    static final class PinMismatch extends CertificateException {
        PinMismatch(String message) {
            super(message);
        }
    }

    /**
     * Accepts exactly the pinned certificate, whatever it is issued for: a pin says which
     * certificate, so neither the chain nor the host name is consulted. Extends the "extended"
     * manager so the JDK does not add its own host name check on top.
     */
    private static final class PinnedTrust extends X509ExtendedTrustManager {
        private final RemoteTrust.Pin pin;

        PinnedTrust(RemoteTrust.Pin pin) {
            this.pin = pin;
        }

        private void check(X509Certificate[] chain) throws CertificateException {
            if (chain == null || chain.length == 0) {
                throw new CertificateException("the coordinator sent no certificate");
            }
            String got = RemoteTrust.fingerprint(chain[0]);
            if (!got.equals(pin.toString())) {
                throw new PinMismatch("certificate fingerprint " + got + " does not match the pinned " + pin);
            }
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            check(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
            check(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
            check(chain);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("a contributor does not accept client certificates");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
            checkClientTrusted(chain, authType);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
            checkClientTrusted(chain, authType);
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
