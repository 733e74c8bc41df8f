package dev.merit.coordinator.events;

import dev.merit.error.MeritException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.Reader;
import java.io.Writer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.storage.Formatter;
import org.apache.kafka.server.common.Feature;
import org.apache.kafka.server.common.MetadataVersion;

/**
 * A single-node Kafka (KRaft, broker and controller in one process) on loopback, with its log
 * under one directory. The first start formats the directory and picks free ports; later starts
 * on the same directory keep the data and reuse the ports when they are still free, so clients
 * that knew the old address reconnect by themselves after a restart.
 *
 * <p>Clients must authenticate: the broker listener speaks SASL/SCRAM-SHA-256, and the only
 * credential is generated when the directory is formatted and written, readable by its owner only,
 * to {@value #CLIENT_CONFIG} in that directory (a Kafka client configuration file that tools such
 * as {@code kafka-console-consumer --consumer.config} accept). Any other local process is refused,
 * so it cannot publish forged events. The controller listener stays plaintext on loopback: it
 * serves only the controller's own protocol, not produce or fetch.
 */
public final class EmbeddedKafka implements AutoCloseable {

    private static final String HOST = "127.0.0.1";
    private static final int NODE_ID = 1;
    private static final String PORTS_FILE = "merit-ports.properties";
    private static final int BIND_ATTEMPTS = 3;
    /** The client configuration (SCRAM credential) written next to the log at format time. */
    public static final String CLIENT_CONFIG = "client.properties";
    private static final String MECHANISM = "SCRAM-SHA-256";
    private static final String USER = "merit";
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafka.class);

    private final KafkaRaftServer server;
    private final KafkaAccess access;
    private boolean closed;

    private EmbeddedKafka(KafkaRaftServer server, KafkaAccess access) {
        this.server = server;
        this.access = access;
    }

    /** Starts a broker whose data lives in {@code logDir} (created and formatted if new). */
    public static EmbeddedKafka start(Path logDir) {
        Path dir = logDir.toAbsolutePath().normalize();
        try {
            Files.createDirectories(dir);
            if (!Files.exists(dir.resolve("meta.properties"))) {
                format(dir, newPassword());
            }
            String password = password(dir);
            // A port found free can be taken by another process before the broker binds it:
            // then start again on new ports.
            for (int attempt = 1; ; attempt++) {
                int[] ports = ports(dir, attempt > 1);
                KafkaRaftServer server = new KafkaRaftServer(
                        new KafkaConfig(config(dir, ports[0], ports[1], password), false), Time.SYSTEM);
                try {
                    server.startup();
                    String bootstrap = HOST + ":" + ports[0];
                    return new EmbeddedKafka(server, password == null
                            ? KafkaAccess.unauthenticated(bootstrap)
                            : new KafkaAccess(bootstrap, clientSettings(password)));
                } catch (RuntimeException e) {
                    server.shutdown();
                    server.awaitShutdown();
                    if (attempt >= BIND_ATTEMPTS || !isBindFailure(e)) {
                        throw e;
                    }
                }
            }
        } catch (IOException e) {
            throw new MeritException("embedded Kafka in " + dir + ": " + e.getMessage(), e);
        } catch (MeritException e) {
            throw e;
        } catch (Exception e) {
            throw new MeritException("embedded Kafka in " + dir + " did not start: " + e.getMessage(), e);
        }
    }

    private static boolean isBindFailure(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.net.BindException || String.valueOf(t.getMessage()).contains("failed to bind")) {
                return true;
            }
        }
        return false;
    }

    /** {@code 127.0.0.1:port} of the broker listener, for clients' {@code bootstrap.servers}. */
    public String bootstrapServers() {
        return access.bootstrapServers();
    }

    /** The address and the credential a client needs. */
    public KafkaAccess access() {
        return access;
    }

    /** Stops the broker and waits for it; the log stays for the next start. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        server.shutdown();
        server.awaitShutdown();
    }

    /** {@code password} null: a directory formatted by an older Merit, which has no credential (plaintext). */
    private static Map<String, Object> config(Path dir, int brokerPort, int controllerPort, String password) {
        Map<String, Object> c = new HashMap<>();
        c.put("process.roles", "broker,controller");
        c.put("node.id", String.valueOf(NODE_ID));
        c.put("controller.quorum.voters", NODE_ID + "@" + HOST + ":" + controllerPort);
        c.put("listeners", "BROKER://" + HOST + ":" + brokerPort + ",CONTROLLER://" + HOST + ":" + controllerPort);
        c.put("advertised.listeners", "BROKER://" + HOST + ":" + brokerPort);
        c.put("controller.listener.names", "CONTROLLER");
        c.put("inter.broker.listener.name", "BROKER");
        if (password == null) {
            c.put("listener.security.protocol.map", "BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT");
        } else {
            c.put("listener.security.protocol.map", "BROKER:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT");
            c.put("sasl.enabled.mechanisms", MECHANISM);
            c.put("sasl.mechanism.inter.broker.protocol", MECHANISM);
            // The broker talks to itself with the same credential.
            c.put("listener.name.broker." + MECHANISM.toLowerCase(java.util.Locale.ROOT) + ".sasl.jaas.config", jaas(password));
        }
        c.put("log.dirs", dir.toString());
        c.put("metadata.log.dir", dir.toString());
        // One node: every internal topic has one replica, and one in-sync replica is enough for acks=all.
        c.put("offsets.topic.replication.factor", "1");
        c.put("offsets.topic.num.partitions", "1");
        c.put("transaction.state.log.replication.factor", "1");
        c.put("transaction.state.log.min.isr", "1");
        c.put("transaction.state.log.num.partitions", "1");
        c.put("share.coordinator.state.topic.replication.factor", "1");
        c.put("share.coordinator.state.topic.min.isr", "1");
        c.put("default.replication.factor", "1");
        c.put("min.insync.replicas", "1");
        c.put("num.partitions", "1");
        c.put("group.initial.rebalance.delay.ms", "0");
        // Small thread pools: this broker shares a process (and a couple of cores) with the coordinator.
        c.put("num.network.threads", "2");
        c.put("num.io.threads", "2");
        c.put("background.threads", "2");
        c.put("num.recovery.threads.per.data.dir", "1");
        c.put("log.cleaner.threads", "1");
        return c;
    }

    private static Map<String, String> clientSettings(String password) {
        return Map.of(
                "security.protocol", "SASL_PLAINTEXT",
                "sasl.mechanism", MECHANISM,
                "sasl.jaas.config", jaas(password));
    }

    private static String jaas(String password) {
        // The password is base64url: no quotes or backslashes to escape.
        return "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"" + USER
                + "\" password=\"" + password + "\";";
    }

    private static String newPassword() {
        byte[] b = new byte[24];
        new SecureRandom().nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    /** The credential written at format time, or null for a directory formatted before Merit had one. */
    private static String password(Path dir) throws IOException {
        Path file = dir.resolve(CLIENT_CONFIG);
        if (!Files.exists(file)) {
            LOG.warn("embedded Kafka in {} was created without credentials (by an older Merit): it accepts "
                    + "unauthenticated clients; to get a credential, stop the coordinator and remove that directory "
                    + "(the topics start empty again; unpublished events wait in the outbox)", dir);
            return null;
        }
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file)) {
            p.load(r);
        }
        String jaas = p.getProperty("sasl.jaas.config", "");
        int at = jaas.indexOf("password=\"");
        int end = at < 0 ? -1 : jaas.indexOf('"', at + 10);
        if (end < 0) {
            throw new MeritException("embedded Kafka: " + file + " has no sasl.jaas.config password; "
                    + "restore it or remove the directory " + dir);
        }
        return jaas.substring(at + 10, end);
    }

    /**
     * The in-code equivalent of {@code kafka-storage format --add-scram} for a combined node with a
     * static quorum; the client configuration is written first, owner-readable only, so a crash in
     * between leaves a credential that matches a later format.
     */
    private static void format(Path dir, String password) throws Exception {
        Path file = dir.resolve(CLIENT_CONFIG);
        Path tmp = dir.resolve(CLIENT_CONFIG + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Properties p = new Properties();
        clientSettings(password).forEach(p::setProperty);
        try (Writer w = Files.newBufferedWriter(tmp)) {
            p.store(w, "Kafka client settings for the embedded broker (SASL/SCRAM); keep private");
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        new Formatter()
                .setScramArguments(List.of(MECHANISM + "=[name=" + USER + ",password=" + password + "]"))
                .setPrintStream(new PrintStream(OutputStream.nullOutputStream(), true, StandardCharsets.UTF_8))
                .setSupportedFeatures(Feature.PRODUCTION_FEATURES)
                .setNodeId(NODE_ID)
                .setClusterId(Uuid.randomUuid().toString())
                .setDirectories(List.of(dir.toString()))
                .setMetadataLogDirectory(dir.toString())
                .setControllerListenerName("CONTROLLER")
                .setReleaseVersion(MetadataVersion.LATEST_PRODUCTION)
                .run();
    }

    /** {broker, controller}: unless {@code fresh}, the ones this directory used before if both are still free; else new free ones. */
    private static int[] ports(Path dir, boolean fresh) throws IOException {
        Path file = dir.resolve(PORTS_FILE);
        if (!fresh && Files.exists(file)) {
            Properties p = new Properties();
            try (Reader r = Files.newBufferedReader(file)) {
                p.load(r);
            }
            try {
                int broker = Integer.parseInt(p.getProperty("broker", ""));
                int controller = Integer.parseInt(p.getProperty("controller", ""));
                if (isFree(broker) && isFree(controller)) {
                    return new int[] {broker, controller};
                }
            } catch (NumberFormatException ignored) {
                // a damaged file only costs the old address; pick new ports below
            }
        }
        int[] ports;
        try (ServerSocket a = bind(0); ServerSocket b = bind(0)) {
            ports = new int[] {a.getLocalPort(), b.getLocalPort()};
        }
        Properties p = new Properties();
        p.setProperty("broker", String.valueOf(ports[0]));
        p.setProperty("controller", String.valueOf(ports[1]));
        try (Writer w = Files.newBufferedWriter(file)) {
            p.store(w, "loopback ports of the embedded Kafka broker, reused on restart");
        }
        return ports;
    }

    private static boolean isFree(int port) {
        try {
            bind(port).close();
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static ServerSocket bind(int port) throws IOException {
        ServerSocket s = new ServerSocket();
        try {
            // same as the broker's own listener sockets, so a port in TIME_WAIT counts as free
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getByName(HOST), port));
            return s;
        } catch (IOException e) {
            s.close();
            throw e;
        }
    }
}
