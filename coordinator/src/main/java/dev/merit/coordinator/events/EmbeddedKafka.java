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
 */
public final class EmbeddedKafka implements AutoCloseable {

    private static final String HOST = "127.0.0.1";
    private static final int NODE_ID = 1;
    private static final String PORTS_FILE = "merit-ports.properties";
    private static final int BIND_ATTEMPTS = 3;

    private final KafkaRaftServer server;
    private final int brokerPort;
    private boolean closed;

    private EmbeddedKafka(KafkaRaftServer server, int brokerPort) {
        this.server = server;
        this.brokerPort = brokerPort;
    }

    /** Starts a broker whose data lives in {@code logDir} (created and formatted if new). */
    public static EmbeddedKafka start(Path logDir) {
        Path dir = logDir.toAbsolutePath().normalize();
        try {
            Files.createDirectories(dir);
            if (!Files.exists(dir.resolve("meta.properties"))) {
                format(dir);
            }
            // A port found free can be taken by another process before the broker binds it:
            // then start again on new ports.
            for (int attempt = 1; ; attempt++) {
                int[] ports = ports(dir, attempt > 1);
                KafkaRaftServer server = new KafkaRaftServer(new KafkaConfig(config(dir, ports[0], ports[1]), false), Time.SYSTEM);
                try {
                    server.startup();
                    return new EmbeddedKafka(server, ports[0]);
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

    /** {@code 127.0.0.1:port} of the PLAINTEXT listener, for clients' {@code bootstrap.servers}. */
    public String bootstrapServers() {
        return HOST + ":" + brokerPort;
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

    private static Map<String, Object> config(Path dir, int brokerPort, int controllerPort) {
        Map<String, Object> c = new HashMap<>();
        c.put("process.roles", "broker,controller");
        c.put("node.id", String.valueOf(NODE_ID));
        c.put("controller.quorum.voters", NODE_ID + "@" + HOST + ":" + controllerPort);
        c.put("listeners", "PLAINTEXT://" + HOST + ":" + brokerPort + ",CONTROLLER://" + HOST + ":" + controllerPort);
        c.put("advertised.listeners", "PLAINTEXT://" + HOST + ":" + brokerPort);
        c.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        c.put("controller.listener.names", "CONTROLLER");
        c.put("inter.broker.listener.name", "PLAINTEXT");
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

    /** The in-code equivalent of {@code kafka-storage format} for a combined node with a static quorum. */
    private static void format(Path dir) throws Exception {
        new Formatter()
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
