package dev.merit.coordinator.events;

import dev.merit.store.Outbox;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The events the relay has just published to Kafka, handed to in-process subscribers (the review
 * page's event stream), so they see exactly what Kafka's consumers see, in the same order.
 */
public final class EventFeed {

    private final List<Consumer<Outbox.Event>> subscribers = new CopyOnWriteArrayList<>();

    public void subscribe(Consumer<Outbox.Event> s) {
        subscribers.add(s);
    }

    public void unsubscribe(Consumer<Outbox.Event> s) {
        subscribers.remove(s);
    }

    void published(List<Outbox.Event> events) {
        for (Outbox.Event e : events) {
            for (Consumer<Outbox.Event> s : subscribers) {
                try {
                    s.accept(e);
                } catch (RuntimeException ex) {
                    // a subscriber whose connection broke goes away; the relay carries on
                    subscribers.remove(s);
                }
            }
        }
    }
}
