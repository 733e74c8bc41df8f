package dev.merit.coordinator.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.errors.TimeoutException;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmbeddedKafkaTest {

    @TempDir
    Path dir;

    @Test
    void aRestartKeepsTheDataAndMovesToNewPortsWhenTheOldOnesAreTaken() throws Exception {
        String first;
        try (EmbeddedKafka k = EmbeddedKafka.start(dir)) {
            first = k.bootstrapServers();
            Properties p = k.access().clientProperties();
            p.put(ProducerConfig.ACKS_CONFIG, "all");
            try (var producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer())) {
                producer.send(new ProducerRecord<>("kept", "k", "v".getBytes())).get();
            }
        }
        int oldPort = Integer.parseInt(first.substring(first.indexOf(':') + 1));
        try (ServerSocket squatter = new ServerSocket()) {
            squatter.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), oldPort));
            try (EmbeddedKafka k = EmbeddedKafka.start(dir)) {
                assertNotEquals(first, k.bootstrapServers());
                List<ConsumerRecord<String, byte[]>> records = KafkaTestSupport.readAll(k.access(), "kept");
                assertEquals(List.of("k"), records.stream().map(ConsumerRecord::key).toList());
                assertEquals("v", KafkaTestSupport.text(records.getFirst()));
            }
        }
    }

    @Test
    void onlyClientsWithTheGeneratedCredentialGetIn() throws Exception {
        try (EmbeddedKafka k = EmbeddedKafka.start(dir)) {
            Path config = dir.resolve(EmbeddedKafka.CLIENT_CONFIG);
            assertEquals(PosixFilePermissions.fromString("rw-------"), Files.getPosixFilePermissions(config),
                    "the credential is readable by its owner only");
            // With the credential: publish and read back.
            Properties good = KafkaAccess.withConfigFile(k.bootstrapServers(), config).clientProperties();
            try (var producer = new KafkaProducer<>(good, new StringSerializer(), new ByteArraySerializer())) {
                producer.send(new ProducerRecord<>(Topics.VERSIONS, "main", "{}".getBytes())).get(20, TimeUnit.SECONDS);
            }
            assertEquals(1, KafkaTestSupport.readAll(k.access(), Topics.VERSIONS).size());

            // Without it (plaintext, as any local process would try) nothing is published.
            ExecutionException anonymous = forge(KafkaAccess.unauthenticated(k.bootstrapServers()).clientProperties());
            assertInstanceOf(TimeoutException.class, anonymous.getCause(), anonymous.toString());
            // With a made-up password: refused by SCRAM.
            Properties wrong = k.access().clientProperties();
            wrong.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required "
                    + "username=\"merit\" password=\"guess\";");
            ExecutionException guessed = forge(wrong);
            assertInstanceOf(SaslAuthenticationException.class, guessed.getCause(), guessed.toString());
            assertEquals(1, KafkaTestSupport.readAll(k.access(), Topics.VERSIONS).size(), "no forged event arrived");
        }
        // A restart reads the same credential back.
        try (EmbeddedKafka k = EmbeddedKafka.start(dir)) {
            assertEquals(1, KafkaTestSupport.readAll(
                    KafkaAccess.withConfigFile(k.bootstrapServers(), dir.resolve(EmbeddedKafka.CLIENT_CONFIG)), Topics.VERSIONS).size());
        }
    }

    /** Tries to publish a forged version event; returns how the send failed. */
    private static ExecutionException forge(Properties p) {
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 3000);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 3000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 2000);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        try (var producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer())) {
            return assertThrows(ExecutionException.class,
                    () -> producer.send(new ProducerRecord<>(Topics.VERSIONS, "main", "{\"forged\":true}".getBytes())).get(20, TimeUnit.SECONDS));
        }
    }
}
