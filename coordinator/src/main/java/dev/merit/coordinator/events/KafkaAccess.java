package dev.merit.coordinator.events;

import dev.merit.error.InvalidInputException;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.TreeMap;

/**
 * How a Kafka client reaches the bus: the bootstrap servers and the client settings that
 * authenticate it (for the embedded broker, SCRAM credentials generated into its directory; for an
 * external cluster, whatever {@code --kafka-config} says). Every producer, consumer and admin client
 * the coordinator makes starts from {@link #clientProperties()}.
 */
public record KafkaAccess(String bootstrapServers, Map<String, String> clientSettings) {

    public KafkaAccess {
        Objects.requireNonNull(bootstrapServers, "bootstrapServers");
        clientSettings = Map.copyOf(clientSettings);
    }

    /** A cluster reached without authentication (an external cluster given only as HOST:PORT). */
    public static KafkaAccess unauthenticated(String bootstrapServers) {
        return new KafkaAccess(bootstrapServers, Map.of());
    }

    /** Client settings read from a Java properties file (e.g. {@code security.protocol}, {@code sasl.jaas.config}). */
    public static KafkaAccess withConfigFile(String bootstrapServers, Path file) {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file)) {
            p.load(r);
        } catch (IOException e) {
            throw new InvalidInputException("--kafka-config " + file + ": " + e.getMessage(), e);
        }
        Map<String, String> settings = new TreeMap<>();
        p.stringPropertyNames().forEach(k -> settings.put(k, p.getProperty(k)));
        settings.remove("bootstrap.servers");
        return new KafkaAccess(bootstrapServers, settings);
    }

    /** A fresh, mutable set of client properties: the bootstrap servers plus the security settings. */
    public Properties clientProperties() {
        Properties p = new Properties();
        p.putAll(clientSettings);
        p.put("bootstrap.servers", bootstrapServers);
        return p;
    }

    /** Never prints the settings: they hold credentials. */
    @Override
    public String toString() {
        return bootstrapServers + (clientSettings.isEmpty() ? "" : " (authenticated)");
    }
}
