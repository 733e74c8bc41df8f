package dev.merit.coordinator.grpc;

import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import java.io.InputStream;

/**
 * Answers a request message that does not parse with INVALID_ARGUMENT. gRPC itself closes such a
 * call with UNKNOWN ("Application error processing RPC"), which tells a client nothing; here the
 * parse failure travels to the call as a value and the call is closed with a status naming the
 * method and the problem.
 */
final class MalformedRequests {

    private MalformedRequests() {}

    /** A request whose bytes are not the method's message. */
    private record Malformed(String problem) {}

    /** {@code service} with every method's request parsing checked. */
    static ServerServiceDefinition refusedAsInvalid(ServerServiceDefinition service) {
        ServerServiceDefinition.Builder b = ServerServiceDefinition.builder(service.getServiceDescriptor().getName());
        for (ServerMethodDefinition<?, ?> m : service.getMethods()) {
            b.addMethod(checked(m));
        }
        return b.build();
    }

    @SuppressWarnings("unchecked")
    private static <Q, R> ServerMethodDefinition<Object, R> checked(ServerMethodDefinition<Q, R> m) {
        MethodDescriptor<Q, R> d = m.getMethodDescriptor();
        MethodDescriptor.Marshaller<Q> requests = d.getRequestMarshaller();
        MethodDescriptor<Object, R> method = d.toBuilder(new MethodDescriptor.Marshaller<Object>() {
            @Override
            public InputStream stream(Object value) {
                return requests.stream((Q) value);
            }

            @Override
            public Object parse(InputStream stream) {
                try {
                    return requests.parse(stream);
                } catch (RuntimeException e) {
                    Throwable cause = e.getCause() != null ? e.getCause() : e;
                    return new Malformed(cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName());
                }
            }
        }, d.getResponseMarshaller()).build();
        String expected = requests instanceof MethodDescriptor.PrototypeMarshaller<Q> p
                && p.getMessagePrototype() instanceof com.google.protobuf.Message proto ? proto.getDescriptorForType().getFullName() : "request";
        ServerCallHandler<Q, R> handler = m.getServerCallHandler();
        return ServerMethodDefinition.create(method, (call, headers) -> {
            // Request messages are only ever delivered to the listener, so the original handler can
            // serve the call unchanged once malformed ones are taken out.
            ClosingOnce<R> once = new ClosingOnce<>(call);
            ServerCall.Listener<Q> next = handler.startCall((ServerCall<Q, R>) (ServerCall<?, R>) once, headers);
            return new ServerCall.Listener<>() {
                private boolean refused;

                @Override
                public void onMessage(Object message) {
                    if (refused) {
                        return;
                    }
                    if (message instanceof Malformed bad) {
                        refused = true;
                        once.closeIfOpen(Status.INVALID_ARGUMENT.withDescription(Errors.truncate(d.getFullMethodName()
                                + ": the request is not a valid " + expected + " message (" + bad.problem() + ")")));
                        return;
                    }
                    next.onMessage((Q) message);
                }

                @Override
                public void onHalfClose() {
                    if (!refused) {
                        next.onHalfClose();
                    }
                }

                @Override
                public void onCancel() {
                    next.onCancel();
                }

                @Override
                public void onComplete() {
                    next.onComplete();
                }

                @Override
                public void onReady() {
                    if (!refused) {
                        next.onReady();
                    }
                }
            };
        });
    }

    /** A call that remembers whether it was closed, so a refusal never closes it twice. */
    private static final class ClosingOnce<R> extends ForwardingServerCall.SimpleForwardingServerCall<Object, R> {
        private boolean closed;

        ClosingOnce(ServerCall<Object, R> call) {
            super(call);
        }

        @Override
        public synchronized void close(Status status, Metadata trailers) {
            if (!closed) {
                closed = true;
                super.close(status, trailers);
            }
        }

        synchronized void closeIfOpen(Status status) {
            close(status, new Metadata());
        }
    }
}
