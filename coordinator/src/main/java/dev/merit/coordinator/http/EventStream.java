package dev.merit.coordinator.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import dev.merit.coordinator.CoordinatorException;
import dev.merit.coordinator.Json;
import dev.merit.coordinator.auth.Principal;
import dev.merit.coordinator.auth.Role;
import dev.merit.coordinator.events.EventFeed;
import dev.merit.coordinator.events.Topics;
import dev.merit.store.Outbox;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * {@code GET /api/events}: server-sent events of what the relay publishes to Kafka, one SSE event
 * per Kafka record ({@code event: proposal} or {@code event: version}, {@code id:} its outbox
 * sequence, {@code data:} the record's JSON). A caller below maintainer sees only its own
 * proposals' events, as in the proposal list. A comment line every 15 s keeps proxies open and
 * finds closed connections.
 */
final class EventStream {

    private static final int MAX_QUEUED = 1024;

    private final EventFeed feed;
    private final Principal who;
    private final Runnable recheck;

    /** {@code recheck} checks the caller's token again (throws once it expired or was revoked), before every event. */
    EventStream(EventFeed feed, Principal who, Runnable recheck) {
        this.feed = feed;
        this.who = who;
        this.recheck = recheck;
    }

    void serve(HttpExchange ex) throws IOException {
        BlockingQueue<Outbox.Event> queue = new LinkedBlockingQueue<>(MAX_QUEUED);
        // A reader too slow to drain the queue loses events rather than holding the relay back.
        Consumer<Outbox.Event> sub = queue::offer;
        feed.subscribe(sub);
        try {
            ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
            ex.getResponseHeaders().set("X-Accel-Buffering", "no");
            ex.sendResponseHeaders(200, 0);
            OutputStream out = ex.getResponseBody();
            write(out, ": merit events for " + who.name() + "\nretry: 2000\n\n");
            while (!Thread.currentThread().isInterrupted()) {
                Outbox.Event e = queue.poll(15, TimeUnit.SECONDS);
                try {
                    recheck.run();
                } catch (CoordinatorException revoked) {
                    // A stream outlives its token's checks: end it when the token expires or is revoked.
                    write(out, "event: error\ndata: " + revoked.getMessage().replace("\n", " ") + "\n\n");
                    return;
                }
                if (e == null) {
                    write(out, ": keep-alive\n\n");
                } else if (visible(e)) {
                    String kind = e.topic().equals(Topics.VERSIONS) ? "version" : "proposal";
                    String data = new String(e.value(), StandardCharsets.UTF_8).replace("\n", " ");
                    write(out, "event: " + kind + "\nid: " + e.sequence() + "\ndata: " + data + "\n\n");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            // the page went away
        } finally {
            feed.unsubscribe(sub);
        }
    }

    private boolean visible(Outbox.Event e) {
        if (!e.topic().equals(Topics.PROPOSALS) || who.role().atLeast(Role.MAINTAINER)) {
            return true;
        }
        try {
            ObjectNode n = Json.parse("proposal event", e.value());
            return who.name().equals(n.path("contributor").asText());
        } catch (RuntimeException ex) {
            return false;
        }
    }

    private static void write(OutputStream out, String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }
}
