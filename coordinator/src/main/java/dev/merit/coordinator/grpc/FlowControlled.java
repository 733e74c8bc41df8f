package dev.merit.coordinator.grpc;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.Iterator;

/**
 * Sends a lazily produced stream only as fast as the client reads it, so sending a large model
 * holds a few messages in memory rather than all of them.
 */
final class FlowControlled<T> {

    private final ServerCallStreamObserver<T> out;
    private final Iterator<T> messages;
    private boolean finished;

    private FlowControlled(ServerCallStreamObserver<T> out, Iterator<T> messages) {
        this.out = out;
        this.messages = messages;
    }

    /** Must be called from the service method itself, before it returns. */
    static <T> void send(StreamObserver<T> observer, Iterator<T> messages) {
        ServerCallStreamObserver<T> out = (ServerCallStreamObserver<T>) observer;
        FlowControlled<T> f = new FlowControlled<>(out, messages);
        out.setOnCancelHandler(() -> {
            synchronized (f) {
                f.finished = true;
            }
        });
        out.setOnReadyHandler(f::drain);
        f.drain();
    }

    private synchronized void drain() {
        if (finished) {
            return;
        }
        try {
            while (out.isReady() && messages.hasNext()) {
                out.onNext(messages.next());
            }
            if (!messages.hasNext()) {
                finished = true;
                out.onCompleted();
            }
        } catch (RuntimeException e) {
            finished = true;
            out.onError(Errors.toStatus(e));
        }
    }
}
