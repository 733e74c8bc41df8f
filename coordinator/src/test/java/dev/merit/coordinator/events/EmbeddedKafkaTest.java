package dev.merit.coordinator.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
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
            Properties p = new Properties();
            p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, first);
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
                List<ConsumerRecord<String, byte[]>> records = KafkaTestSupport.readAll(k.bootstrapServers(), "kept");
                assertEquals(List.of("k"), records.stream().map(ConsumerRecord::key).toList());
                assertEquals("v", KafkaTestSupport.text(records.getFirst()));
            }
        }
    }
}
