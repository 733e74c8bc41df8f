package dev.merit.coordinator.harden;

import com.google.protobuf.ByteString;
import com.google.protobuf.TextFormat;
import com.google.protobuf.UnknownFieldSet;
import dev.merit.proto.v1.AdminServiceGrpc;
import dev.merit.proto.v1.BackupRequest;
import dev.merit.proto.v1.CreateTokenRequest;
import dev.merit.proto.v1.FetchRequest;
import dev.merit.proto.v1.FetchResponse;
import dev.merit.proto.v1.GetProposalRequest;
import dev.merit.proto.v1.GetUploadRequest;
import dev.merit.proto.v1.GramPayload;
import dev.merit.proto.v1.ListProposalsRequest;
import dev.merit.proto.v1.LogRequest;
import dev.merit.proto.v1.ObjectPiece;
import dev.merit.proto.v1.ProposalHeader;
import dev.merit.proto.v1.ProposalServiceGrpc;
import dev.merit.proto.v1.ProposalStatus;
import dev.merit.proto.v1.PublishRequest;
import dev.merit.proto.v1.PublishResponse;
import dev.merit.proto.v1.PublishStart;
import dev.merit.proto.v1.PushRequest;
import dev.merit.proto.v1.PushResponse;
import dev.merit.proto.v1.RegisterKeyRequest;
import dev.merit.proto.v1.ReviewRequest;
import dev.merit.proto.v1.TensorPayload;
import dev.merit.proto.v1.TensorSpec;
import dev.merit.proto.v1.VersionServiceGrpc;
import dev.merit.proto.v1.WatchRequest;
import dev.merit.proto.v1.WhoAmIRequest;
import dev.merit.wire.Ed25519;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.KeyPair;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * Malformed and hostile gRPC inputs against a real coordinator on loopback: mutated push headers
 * (shapes, dtypes, sizes, names, digests, signatures, upload ids, grams, unknown fields), mutated
 * or truncated payloads, messages in the wrong order, bad tokens and wrong roles on every
 * service, hostile fields in every unary call, malformed publish streams, and bytes that are not
 * protobuf at all. Each input gets one {@link Answer}; the test judges it.
 */
final class GrpcFuzz {

    /** How the coordinator answered one input: a status code and a line describing it. */
    record Answer(Status.Code code, String detail, boolean changedSomething, String rejectedId) {
        static Answer error(Throwable t) {
            Status s = Status.fromThrowable(t instanceof ExecutionException ? t.getCause() : t);
            return new Answer(s.getCode(), s.getCode() + ": " + s.getDescription(), false, null);
        }

        static Answer ok(String detail) {
            return new Answer(Status.Code.OK, "OK " + detail, false, null);
        }

        /** An OK answer to a call that must not have succeeded on hostile input (it changed something). */
        static Answer harmful(String detail) {
            return new Answer(Status.Code.OK, "OK " + detail, true, null);
        }
    }

    /** One generated input: its category, how to show it, and how to send it. */
    record Input(String category, String shown, Supplier<Answer> send) {}

    /** Codes a hostile input may get; UNKNOWN, INTERNAL, DATA_LOSS, UNAVAILABLE, DEADLINE_EXCEEDED never. */
    static final Set<Status.Code> TYPED = Set.of(Status.Code.OK, Status.Code.INVALID_ARGUMENT, Status.Code.UNAUTHENTICATED,
            Status.Code.PERMISSION_DENIED, Status.Code.NOT_FOUND, Status.Code.RESOURCE_EXHAUSTED, Status.Code.FAILED_PRECONDITION,
            Status.Code.ABORTED, Status.Code.ALREADY_EXISTS, Status.Code.OUT_OF_RANGE);

    private static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final long DEADLINE_S = 20;
    private static final String[] DTYPES = {"F32", "F16", "BF16", "F64", "I64", "I32", "U8", "BOOL", "f32", "F32 ", "FLOAT32", "F8_E4M3"};
    private static final int MAX_MESSAGE = 4 << 20;

    private final LoopbackCoordinator c;
    private final Hostile h;
    private final String alice;
    private final String reader;
    private final String acceptedId;
    private final String rejectedId;
    private final KeyPair aliceKey;
    private final KeyPair bobKey;
    private int nonce;

    GrpcFuzz(LoopbackCoordinator c, Hostile h, String reader, String acceptedId, String rejectedId) {
        this.c = c;
        this.h = h;
        this.alice = c.contributor("alice");
        this.aliceKey = c.key("alice");
        this.bobKey = c.key("bob");
        this.reader = reader;
        this.acceptedId = acceptedId;
        this.rejectedId = rejectedId;
    }

    Input next() {
        int k = h.below(100);
        if (k < 37) {
            return headerMutation();
        } else if (k < 50) {
            return payloadMutation();
        } else if (k < 58) {
            return wrongOrder();
        } else if (k < 68) {
            return badAuth();
        } else if (k < 86) {
            return unary();
        } else if (k < 93) {
            return publish();
        }
        return notProtobuf();
    }

    // ------------------------------------------------------------------ pushes

    /** A fresh, valid, signed proposal of alice's (its own positions, so its own digest). */
    private LoopbackCoordinator.Signed fresh(float[] values) {
        int n = values.length;
        long[] pos = new long[n];
        long at = h.below(64);
        for (int i = 0; i < n; i++) {
            pos[i] = at;
            at += 1 + h.below(64);
        }
        return c.proposal("alice", c.v0, pos, values, "fuzz " + (nonce++));
    }

    private LoopbackCoordinator.Signed fresh() {
        float[] v = new float[1 + h.below(6)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (h.rng().nextDouble() - 0.5) * 0.1f;
        }
        return fresh(v);
    }

    private Input headerMutation() {
        LoopbackCoordinator.Signed s = fresh();
        ProposalHeader original = s.header(0).getHeader();
        ProposalHeader.Builder b = original.toBuilder();
        List<String> what = new ArrayList<>();
        int n = 1 + (h.chance(0.3) ? h.below(3) : 0);
        for (int i = 0; i < n; i++) {
            what.add(mutate(b));
        }
        if (b.build().equals(original)) {
            b.setResumeOffset(1 + h.below(1000));
            what.add("resume_offset (no other change took)");
        }
        if (h.chance(0.15)) {
            // Unknown fields change nothing the digest covers: only together with a real fault.
            b.setUnknownFields(UnknownFieldSet.newBuilder().addField(999, UnknownFieldSet.Field.newBuilder()
                    .addLengthDelimited(ByteString.copyFrom(h.bytes(h.below(100)))).addVarint(h.number()).build()).build());
            what.add("unknown field 999");
        }
        ProposalHeader header = b.build();
        List<PushRequest> msgs = new ArrayList<>();
        msgs.add(PushRequest.newBuilder().setHeader(header).build());
        msgs.addAll(chunks(s.payload()));
        return push("push header: " + what.getFirst().replaceAll("[-0-9\\[(].*", "").trim(), String.join(", ", what), header, msgs, false);
    }

    /** Applies one hostile change to a push header; returns its name. */
    private String mutate(ProposalHeader.Builder b) {
        int parts = b.getTensorsCount();
        TensorPayload.Builder t = parts > 0 ? b.getTensorsBuilder(h.below(parts)) : null;
        switch (h.below(19)) {
            case 0 -> {
                if (t == null) {
                    return mutate(b);
                }
                TensorSpec.Builder sp = t.getSpecBuilder().clearShape();
                for (long d : hostileShape()) {
                    sp.addShape(d);
                }
                return "shape " + sp.getShapeList();
            }
            case 1 -> {
                if (t == null) {
                    return mutate(b);
                }
                String d = h.chance(0.5) ? h.pick(DTYPES) : h.string();
                t.getSpecBuilder().setDtype(d);
                return "dtype";
            }
            case 2 -> {
                if (t == null) {
                    return mutate(b);
                }
                t.setDeltaBytes(h.number());
                return "delta_bytes " + t.getDeltaBytes();
            }
            case 3 -> {
                if (t == null) {
                    return mutate(b);
                }
                t.setFisherBytes(h.number());
                return "fisher_bytes " + t.getFisherBytes();
            }
            case 4 -> {
                if (t == null) {
                    return mutate(b);
                }
                t.getSpecBuilder().setName(h.chance(0.3) ? "b" : h.string());
                return "tensor name";
            }
            case 5 -> {
                int copies = h.chance(0.1) ? 2000 + h.below(8000) : 1 + h.below(3);
                TensorPayload p = parts > 0 ? b.getTensors(0) : TensorPayload.getDefaultInstance();
                for (int i = 0; i < copies; i++) {
                    b.addTensors(h.chance(0.2) ? TensorPayload.getDefaultInstance() : p);
                }
                return copies + " extra parts";
            }
            case 6 -> {
                b.clearTensors();
                return "no parts";
            }
            case 7 -> {
                int len = h.chance(0.5) ? h.below(32) : 33 + h.below(h.chance(0.1) ? 1_000_000 : 100);
                b.setDigest(ByteString.copyFrom(h.bytes(len)));
                return "digest of " + len + " bytes";
            }
            case 8 -> {
                byte[] d = b.getDigest().toByteArray();
                d[h.below(d.length)] ^= (byte) (1 << h.below(8));
                b.setDigest(ByteString.copyFrom(d)).setUploadId(HexFormat.of().formatHex(d));
                if (h.chance(0.7)) {
                    b.setSignature(ByteString.copyFrom(Ed25519.sign(aliceKey.getPrivate(), d)));
                    return "wrong digest, signed";
                }
                return "wrong digest";
            }
            case 9 -> {
                switch (h.below(3)) {
                    case 0 -> b.setSignature(ByteString.copyFrom(h.bytes(h.below(200))));
                    case 1 -> b.setSignature(ByteString.EMPTY);
                    default -> b.setSignature(ByteString.copyFrom(Ed25519.sign(bobKey.getPrivate(), b.getDigest().toByteArray())));
                }
                return "signature";
            }
            case 10 -> {
                b.setUploadId(h.chance(0.5) ? b.getUploadId().toUpperCase(Locale.ROOT) : h.string());
                return "upload_id";
            }
            case 11 -> {
                b.setBranch(h.string());
                return "branch";
            }
            case 12 -> {
                b.setBaseVersion(switch (h.below(3)) {
                    case 0 -> HexFormat.of().formatHex(h.bytes(32));
                    case 1 -> b.getBaseVersion().toUpperCase(Locale.ROOT) + (h.chance(0.5) ? "" : "0");
                    default -> h.string();
                });
                return "base_version";
            }
            case 13 -> {
                b.setContributor(h.chance(0.3) ? "bob" : h.string());
                return "contributor";
            }
            case 14 -> {
                b.setExampleCount(h.number());
                return "example_count " + b.getExampleCount();
            }
            case 15 -> {
                b.setMessage(h.string());
                return "message";
            }
            case 16 -> {
                long off = h.number();
                b.setResumeOffset(off == 0 ? 7 : off);
                return "resume_offset " + b.getResumeOffset();
            }
            case 17 -> {
                GramPayload.Builder g = GramPayload.newBuilder().setBytes(h.number());
                TensorSpec.Builder sp = g.getSpecBuilder().setName(h.chance(0.5) ? "w" : h.string()).setDtype(h.pick(DTYPES));
                for (long d : h.chance(0.5) ? new long[] {32, 32} : hostileShape()) {
                    sp.addShape(d);
                }
                b.addGrams(g);
                return "gram (" + TextFormat.shortDebugString(g) + ")";
            }
            default -> {
                b.setGramExamples(-1 - h.rng().nextLong(Long.MAX_VALUE));
                return "gram_examples " + b.getGramExamples();
            }
        }
    }

    /** Shapes no tensor can have, or that overflow: negative, huge, products past 2^63, many dimensions. */
    private long[] hostileShape() {
        return switch (h.below(9)) {
            case 0 -> new long[] {-1, 32};
            case 1 -> new long[] {Long.MAX_VALUE, Long.MAX_VALUE};
            case 2 -> new long[] {1L << 62, 4};
            case 3 -> new long[] {3_037_000_500L, 3_037_000_500L};
            case 4 -> new long[] {Long.MIN_VALUE};
            case 5 -> new long[0];
            case 6 -> {
                long[] s = new long[8 + h.below(60)];
                Arrays.fill(s, 1024);
                yield s;
            }
            case 7 -> new long[] {64, 32, 1};
            default -> new long[] {h.number(), h.number()};
        };
    }

    /** The payload as the stream carries it: one piece, or pieces of random sizes with empty ones between. */
    private List<PushRequest> chunks(byte[] payload) {
        List<PushRequest> out = new ArrayList<>();
        if (h.chance(0.5)) {
            out.add(PushRequest.newBuilder().setData(ByteString.copyFrom(payload)).build());
            return out;
        }
        int at = 0;
        while (at < payload.length) {
            int n = Math.min(payload.length - at, h.below(h.chance(0.2) ? 3 : 200) + (h.chance(0.1) ? 0 : 1));
            out.add(PushRequest.newBuilder().setData(ByteString.copyFrom(payload, at, n)).build());
            at += n;
        }
        return out;
    }

    private Input payloadMutation() {
        int kind = h.below(8);
        if (kind == 5 && h.chance(0.6)) {
            kind = 0; // a message over 4 MiB costs the most; a few per run suffice
        }
        if (kind == 7) {
            float bad = h.pick(new Float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY});
            float[] v = {0.01f, bad, -0.02f};
            LoopbackCoordinator.Signed s = fresh(v);
            List<PushRequest> msgs = new ArrayList<>();
            msgs.add(s.header(0));
            msgs.addAll(chunks(s.payload()));
            return push("push payload: non-finite values", "signed delta holding " + bad, s.header(0).getHeader(), msgs, false);
        }
        LoopbackCoordinator.Signed s = fresh();
        byte[] p = s.payload();
        byte[] m;
        String what;
        switch (kind) {
            case 0 -> {
                m = p.clone();
                int flips = 1 + h.below(8);
                for (int i = 0; i < flips; i++) {
                    m[h.below(m.length)] ^= (byte) (1 << h.below(8));
                }
                what = flips + " bit flips";
            }
            case 1 -> {
                m = Arrays.copyOf(p, h.below(p.length));
                what = "cut at " + m.length + " of " + p.length + " bytes";
            }
            case 2 -> {
                m = Arrays.copyOf(p, p.length + 1 + h.below(h.chance(0.1) ? 300_000 : 300));
                System.arraycopy(h.bytes(m.length - p.length), 0, m, p.length, m.length - p.length);
                what = (m.length - p.length) + " extra bytes";
            }
            case 3 -> {
                m = h.bytes(p.length);
                what = "random bytes of the declared length";
            }
            case 4 -> {
                m = p.clone();
                int at = h.below(m.length);
                Arrays.fill(m, at, Math.min(m.length, at + 1 + h.below(16)), h.chance(0.5) ? (byte) 0xff : 0);
                what = "a run of 0x00 or 0xff at " + at;
            }
            case 5 -> {
                List<PushRequest> msgs = new ArrayList<>();
                msgs.add(s.header(0));
                msgs.add(PushRequest.newBuilder().setData(ByteString.copyFrom(new byte[MAX_MESSAGE + 16])).build());
                return push("push payload: message over 4 MiB", "one data message of " + (MAX_MESSAGE + 16) + " bytes", s.header(0).getHeader(), msgs, false);
            }
            default -> {
                m = p.clone();
                int a = h.below(m.length);
                int b2 = h.below(m.length);
                byte t = m[a];
                m[a] = m[b2];
                m[b2] = t;
                m[h.below(m.length)] += 1;
                what = "bytes swapped and bumped";
            }
        }
        if (Arrays.equals(m, p)) {
            m = Arrays.copyOf(p, p.length + 1);
            what += " (then one extra byte)";
        }
        List<PushRequest> msgs = new ArrayList<>();
        msgs.add(s.header(0));
        msgs.addAll(chunks(m));
        return push("push payload: " + what.replaceAll("^\\d+ ", "").replaceAll(" [-0-9(].*", ""), what, s.header(0).getHeader(), msgs, false);
    }

    private Input wrongOrder() {
        LoopbackCoordinator.Signed s = fresh();
        PushRequest header = s.header(0);
        PushRequest data = PushRequest.newBuilder().setData(ByteString.copyFrom(s.payload())).build();
        PushRequest empty = PushRequest.getDefaultInstance();
        int half = s.payload().length / 2;
        PushRequest firstHalf = PushRequest.newBuilder().setData(ByteString.copyFrom(s.payload(), 0, half)).build();
        return switch (h.below(10)) {
            case 0 -> push("push order", "data before the header", header.getHeader(), List.of(data, header), false);
            case 1 -> push("push order", "two headers", header.getHeader(), List.of(header, header, data), false);
            case 2 -> push("push order", "nothing sent", header.getHeader(), List.of(), false);
            case 3 -> push("push order", "header only", header.getHeader(), List.of(header), false);
            case 4 -> push("push order", "header, half the payload, cancel", header.getHeader(), List.of(header, firstHalf), true);
            case 5 -> push("push order", "header, payload, header again", header.getHeader(), List.of(header, data, header), false);
            case 6 -> push("push order", "header then cancel", header.getHeader(), List.of(header), true);
            case 7 -> push("push order", "data only", header.getHeader(), List.of(data, data), false);
            case 8 -> push("push order", "an empty request (neither header nor data) first", header.getHeader(), List.of(empty, header, data), false);
            default -> push("push order", "header, half, empty request, cut", header.getHeader(), List.of(header, firstHalf, empty), false);
        };
    }

    private Input push(String category, String detail, ProposalHeader header, List<PushRequest> msgs, boolean cancel) {
        return push(category, detail, header, msgs, cancel, "Bearer " + alice);
    }

    private Input push(String category, String detail, ProposalHeader header, List<PushRequest> msgs, boolean cancel, String auth) {
        String shown = detail + "; " + msgs.size() + " messages" + (cancel ? " then cancel" : "") + "; header "
                + TextFormat.shortDebugString(header);
        return new Input(category, shown, () -> {
            CompletableFuture<PushResponse> done = new CompletableFuture<>();
            StreamObserver<PushRequest> in = auth(ProposalServiceGrpc.newStub(c.channel()), auth).push(LoopbackCoordinator.observer(done));
            try {
                for (PushRequest r : msgs) {
                    in.onNext(r);
                }
                if (cancel) {
                    in.onError(new RuntimeException("cut by the fuzz"));
                } else {
                    in.onCompleted();
                }
                PushResponse r = done.get(DEADLINE_S + 5, TimeUnit.SECONDS);
                ProposalStatus st = r.getProposal().getStatus();
                String line = st + " " + (r.getProposal().getReasonsCount() > 0 ? r.getProposal().getReasons(0) : "");
                if (st == ProposalStatus.REJECTED) {
                    return new Answer(Status.Code.OK, "OK " + line, false, r.getProposal().getId());
                }
                return Answer.harmful(line);
            } catch (TimeoutException e) {
                return new Answer(Status.Code.DEADLINE_EXCEEDED, "no answer within " + (DEADLINE_S + 5) + " s", false, null);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            } catch (ExecutionException | RuntimeException e) {
                Answer a = Answer.error(e);
                if (cancel && a.code() == Status.Code.CANCELLED) {
                    return new Answer(Status.Code.OK, "cancelled by the client", false, null);
                }
                return a;
            }
        });
    }

    // ------------------------------------------------------------------ identity

    private <S extends AbstractStub<S>> S auth(S stub, String authorization) {
        Metadata md = new Metadata();
        if (authorization != null) {
            md.put(AUTHORIZATION, authorization);
        }
        return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md)).withDeadlineAfter(DEADLINE_S, TimeUnit.SECONDS);
    }

    /** An Authorization value that names nobody. */
    private String badAuthorization() {
        return switch (h.below(10)) {
            case 0 -> null;
            case 1 -> "Bearer";
            case 2 -> "Bearer ";
            case 3 -> "Bearer " + h.ascii(1 + h.below(80));
            case 4 -> "Basic " + java.util.Base64.getEncoder().encodeToString(("alice:" + alice).getBytes());
            case 5 -> "Bearer " + alice + h.ascii(1);
            case 6 -> "Bearer " + alice.substring(0, alice.length() - 1);
            case 7 -> "Bearer " + h.ascii(1000 + h.below(5000));
            case 8 -> alice;
            default -> "Bearer mrt_" + h.ascii(40);
        };
    }

    private Input badAuth() {
        String a = badAuthorization();
        boolean wrongRole = a != null && h.chance(0.35);
        String auth = wrongRole ? "Bearer " + (h.chance(0.5) ? reader : alice) : a;
        boolean readerOnly = wrongRole && auth.endsWith(reader);
        String category = wrongRole ? "auth: wrong role" : "auth: bad token";
        String shown = "authorization " + Hostile.shorten(String.valueOf(auth), 120);
        // A contributor may push and register its key: as a wrong role, only a reader tries those.
        int call = h.below(wrongRole ? 6 : 11);
        if (wrongRole && !readerOnly && (call == 3 || call == 5)) {
            call = 0;
        }
        return switch (call) {
            case 0 -> unaryCall(category, shown + " Review", () -> Answer.harmful("reviewed " + auth(ProposalServiceGrpc.newBlockingStub(c.channel()), auth)
                    .review(ReviewRequest.newBuilder().setId(acceptedId).setApprove(h.chance(0.5)).build()).getStatus()));
            case 1 -> unaryCall(category, shown + " CreateToken", () -> Answer.harmful("token " + auth(AdminServiceGrpc.newBlockingStub(c.channel()), auth)
                    .createToken(CreateTokenRequest.newBuilder().setName("eve").setRole(dev.merit.proto.v1.Role.MAINTAINER).build()).getPrincipal()));
            case 2 -> unaryCall(category, shown + " Backup", () -> Answer.harmful("backup " + auth(AdminServiceGrpc.newBlockingStub(c.channel()), auth)
                    .backup(BackupRequest.newBuilder().setDirectory(c.data().resolveSibling("stolen-" + nonce++).toString()).build())));
            case 3 -> {
                LoopbackCoordinator.Signed s = fresh();
                yield push(category, shown + " Push", s.header(0).getHeader(),
                        List.of(s.header(0), PushRequest.newBuilder().setData(ByteString.copyFrom(s.payload())).build()), false, auth);
            }
            case 4 -> publishWith(category, shown, auth, List.of(PublishRequest.newBuilder().setStart(PublishStart.newBuilder()
                    .setBranch("stolen").setCommit(dev.merit.proto.v1.ObjectId.newBuilder().setSha256(ByteString.copyFrom(h.bytes(32))))).build()));
            case 5 -> unaryCall(category, shown + " RegisterKey", () -> Answer.harmful("key " + auth(AdminServiceGrpc.newBlockingStub(c.channel()), auth)
                    .registerKey(RegisterKeyRequest.newBuilder().setPublicKey(ByteString.copyFrom(Ed25519.generate().getPublic().getEncoded())).build())
                    .getFingerprint()));
            case 6 -> unaryCall(category, shown + " WhoAmI", () -> Answer.harmful("who " + auth(AdminServiceGrpc.newBlockingStub(c.channel()), auth)
                    .whoAmI(WhoAmIRequest.getDefaultInstance()).getName()));
            case 7 -> unaryCall(category, shown + " ListProposals", () -> Answer.harmful("listed " + auth(ProposalServiceGrpc.newBlockingStub(c.channel()), auth)
                    .listProposals(ListProposalsRequest.getDefaultInstance()).getProposalsCount()));
            case 8 -> unaryCall(category, shown + " Log", () -> Answer.harmful("log " + auth(VersionServiceGrpc.newBlockingStub(c.channel()), auth)
                    .log(LogRequest.newBuilder().setBranch("main").build()).getEntriesCount()));
            case 9 -> unaryCall(category, shown + " Fetch", () -> {
                var it = auth(VersionServiceGrpc.newBlockingStub(c.channel()), auth).fetch(FetchRequest.newBuilder().setBranch("main").build());
                FetchResponse first = it.next();
                return Answer.harmful("fetch started " + first.getKindCase());
            });
            default -> unaryCall(category, shown + " WatchVersions", () -> {
                var it = auth(VersionServiceGrpc.newBlockingStub(c.channel()), auth).withDeadlineAfter(3, TimeUnit.SECONDS)
                        .watchVersions(WatchRequest.getDefaultInstance());
                it.hasNext();
                return Answer.harmful("watching");
            });
        };
    }

    private Input unaryCall(String category, String shown, Supplier<Answer> call) {
        return new Input(category, shown, () -> {
            try {
                return call.get();
            } catch (RuntimeException e) {
                return Answer.error(e);
            }
        });
    }

    // ------------------------------------------------------------------ unary calls

    private Input unary() {
        String admin = "Bearer " + c.adminToken;
        String contributor = "Bearer " + alice;
        var proposals = ProposalServiceGrpc.newBlockingStub(c.channel());
        var versions = VersionServiceGrpc.newBlockingStub(c.channel());
        var adminStub = AdminServiceGrpc.newBlockingStub(c.channel());
        String str = h.string();
        String shown = "string " + Hostile.shorten(TextFormat.escapeDoubleQuotesAndBackslashes(str), 300);
        return switch (h.below(13)) {
            case 0 -> unaryCall("unary: GetUpload", shown, () -> Answer.ok("exists " + auth(proposals, contributor)
                    .getUpload(GetUploadRequest.newBuilder().setUploadId(str).build()).getExists()));
            case 1 -> {
                int status = h.chance(0.5) ? 4 + h.below(1000) : -1 - h.below(1000);
                int limit = (int) h.number();
                String token = h.chance(0.5) ? str : "p" + h.number();
                yield unaryCall("unary: ListProposals", "status " + status + ", limit " + limit + ", page token "
                        + Hostile.shorten(token, 100) + ", branch " + shown, () -> Answer.ok("listed " + auth(proposals, h.chance(0.5) ? admin : contributor)
                        .listProposals(ListProposalsRequest.newBuilder().setBranch(h.chance(0.5) ? "main" : str).setStatusValue(status)
                                .setLimit(limit).setPageToken(token).build()).getProposalsCount()));
            }
            case 2 -> unaryCall("unary: GetProposal", shown, () -> Answer.ok("got " + auth(proposals, h.chance(0.5) ? admin : reader(contributor))
                    .getProposal(GetProposalRequest.newBuilder().setId(str).build()).getId()));
            case 3 -> {
                // A maintainer's review of an unknown id, of an already decided proposal, or with a message past the limit.
                int which = h.below(3);
                String id = which == 0 ? str : which == 1 ? rejectedId : acceptedId;
                String msg = which == 2 ? "m".repeat(4097 + h.below(100_000)) : h.chance(0.5) ? str : "";
                if (which == 0 && (id.equals(acceptedId))) {
                    id = id + "0";
                }
                String fid = id;
                yield unaryCall("unary: Review", "id " + Hostile.shorten(fid, 100) + ", message of " + msg.length() + " chars",
                        () -> Answer.harmful("reviewed " + auth(proposals, admin)
                                .review(ReviewRequest.newBuilder().setId(fid).setApprove(h.chance(0.5)).setMessage(msg).build()).getStatus()));
            }
            case 4 -> {
                int limit = (int) h.number();
                yield unaryCall("unary: Log", "limit " + limit + ", branch " + shown, () -> Answer.ok("entries " + auth(versions, reader(contributor))
                        .log(LogRequest.newBuilder().setBranch(h.chance(0.3) ? "main" : str).setLimit(limit).build()).getEntriesCount()));
            }
            case 5 -> {
                FetchRequest.Builder f = FetchRequest.newBuilder().setBranch(h.chance(0.4) ? "main" : str);
                int haves = h.chance(0.1) ? 20_000 : h.below(5);
                for (int i = 0; i < haves; i++) {
                    f.addHave(dev.merit.proto.v1.ObjectId.newBuilder().setSha256(ByteString.copyFrom(h.bytes(h.chance(0.7) ? 32 : h.below(70)))));
                }
                FetchRequest req = f.build();
                yield unaryCall("unary: Fetch", haves + " haves, branch " + shown, () -> {
                    var it = auth(versions, reader(contributor)).fetch(req);
                    int n = 0;
                    while (it.hasNext()) {
                        it.next();
                        n++;
                    }
                    return Answer.ok("fetched " + n + " messages");
                });
            }
            case 6 -> {
                int role = h.chance(0.5) ? 0 : h.chance(0.5) ? 4 + h.below(100) : -1 - h.below(100);
                yield unaryCall("unary: CreateToken", "role " + role + ", name " + shown, () -> Answer.harmful("token for "
                        + auth(adminStub, admin).createToken(CreateTokenRequest.newBuilder().setName(str).setRoleValue(role).build()).getPrincipal()));
            }
            case 7 -> {
                byte[] key = switch (h.below(4)) {
                    case 0 -> new byte[0];
                    case 1 -> h.bytes(h.below(100));
                    case 2 -> {
                        byte[] k = Ed25519.generate().getPublic().getEncoded();
                        k[h.below(12)] ^= 0x40;
                        yield k;
                    }
                    default -> h.bytes(h.chance(0.5) ? 44 : 1 + h.below(3_000_000));
                };
                yield unaryCall("unary: RegisterKey", key.length + " bytes of key", () -> Answer.harmful("registered "
                        + auth(adminStub, contributor).registerKey(RegisterKeyRequest.newBuilder().setPublicKey(ByteString.copyFrom(key)).build())
                        .getFingerprint()));
            }
            case 8 -> {
                String dir = switch (h.below(3)) {
                    case 0 -> str.replaceFirst("^[/\\\\]+", ""); // never absolute: a backup there would be made
                    case 1 -> "relative/" + h.ascii(10);
                    default -> "";
                };
                yield unaryCall("unary: Backup", "directory " + Hostile.shorten(dir, 100), () -> Answer.harmful("backed up "
                        + auth(adminStub, admin).backup(BackupRequest.newBuilder().setDirectory(dir).build()).getDirectory()));
            }
            case 9 -> unaryCall("unary: Backup over existing data", "directory " + c.data(), () -> Answer.harmful("backed up "
                    + auth(adminStub, admin).backup(BackupRequest.newBuilder().setDirectory(c.data().toString()).build()).getDirectory()));
            case 10 -> unaryCall("unary: WhoAmI with unknown fields", "", () -> {
                WhoAmIRequest req = WhoAmIRequest.newBuilder().setUnknownFields(UnknownFieldSet.newBuilder()
                        .addField(1 + h.below(100), UnknownFieldSet.Field.newBuilder().addLengthDelimited(ByteString.copyFrom(h.bytes(h.below(1000)))).build())
                        .build()).build();
                return Answer.ok("name " + auth(adminStub, contributor).whoAmI(req).getName());
            });
            case 11 -> unaryCall("unary: ListBranches", "", () -> Answer.ok("branches " + auth(versions, reader(contributor))
                    .listBranches(dev.merit.proto.v1.ListBranchesRequest.getDefaultInstance()).getBranchesCount()));
            default -> h.chance(0.7) ? unary() : unaryCall("unary: oversized request", "GetProposal id of 5 MiB", () -> Answer.ok("got " + auth(proposals, admin)
                    .getProposal(GetProposalRequest.newBuilder().setId("p".repeat(5 << 20)).build()).getId()));
        };
    }

    private String reader(String otherwise) {
        return h.chance(0.5) ? "Bearer " + reader : otherwise;
    }

    // ------------------------------------------------------------------ publish

    private Input publish() {
        List<PublishRequest> msgs = new ArrayList<>();
        String branch = h.chance(0.3) ? "main" : h.chance(0.5) ? "fuzz-" + nonce++ : h.string();
        PublishStart.Builder start = PublishStart.newBuilder().setBranch(branch).setObjects(h.number()).setBytes(h.number());
        int idLen = h.chance(0.8) ? 32 : h.below(70);
        start.setCommit(dev.merit.proto.v1.ObjectId.newBuilder().setSha256(ByteString.copyFrom(h.bytes(idLen))));
        List<String> what = new ArrayList<>();
        boolean startFirst = h.chance(0.85);
        if (startFirst) {
            msgs.add(PublishRequest.newBuilder().setStart(start).build());
        }
        int pieces = h.below(4);
        for (int i = 0; i < pieces; i++) {
            ObjectPiece.Builder p = ObjectPiece.newBuilder().setTypeValue(h.chance(0.7) ? 1 + h.below(4) : h.below(100) - 50)
                    .setSize(h.chance(0.5) ? h.below(100) : h.chance(0.3) ? 1L << 30 : h.number()).setOffset(h.chance(0.7) ? 0 : h.number())
                    .setData(ByteString.copyFrom(h.bytes(h.below(200))));
            if (h.chance(0.9)) {
                p.setId(dev.merit.proto.v1.ObjectId.newBuilder().setSha256(ByteString.copyFrom(h.bytes(h.chance(0.8) ? 32 : h.below(70)))));
            }
            msgs.add(PublishRequest.newBuilder().setPiece(p).build());
            what.add("piece type " + p.getTypeValue() + " size " + p.getSize() + " offset " + p.getOffset() + " data " + p.getData().size());
        }
        if (!startFirst && h.chance(0.5)) {
            msgs.add(PublishRequest.newBuilder().setStart(start).build());
        }
        if (h.chance(0.1)) {
            msgs.add(PublishRequest.getDefaultInstance());
            what.add("empty request");
        }
        String shown = (startFirst ? "start " : "no start first; ") + "branch " + Hostile.shorten(branch, 80) + ", commit id of " + idLen
                + " bytes; " + String.join("; ", what);
        return publishWith("publish", shown, "Bearer " + c.adminToken, msgs);
    }

    private Input publishWith(String category, String shown, String auth, List<PublishRequest> msgs) {
        return new Input(category, shown, () -> {
            CompletableFuture<PublishResponse> done = new CompletableFuture<>();
            StreamObserver<PublishRequest> in = auth(VersionServiceGrpc.newStub(c.channel()), auth).publish(LoopbackCoordinator.observer(done));
            try {
                for (PublishRequest r : msgs) {
                    in.onNext(r);
                }
                in.onCompleted();
                return Answer.harmful("published " + done.get(DEADLINE_S + 5, TimeUnit.SECONDS).getBranch().getName());
            } catch (TimeoutException e) {
                return new Answer(Status.Code.DEADLINE_EXCEEDED, "no answer", false, null);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            } catch (ExecutionException | RuntimeException e) {
                return Answer.error(e);
            }
        });
    }

    // ------------------------------------------------------------------ not protobuf

    private static final String[] UNARY_METHODS = {
        "merit.v1.ProposalService/GetUpload", "merit.v1.ProposalService/ListProposals", "merit.v1.ProposalService/GetProposal",
        "merit.v1.ProposalService/Review", "merit.v1.VersionService/ListBranches", "merit.v1.VersionService/Log",
        "merit.v1.AdminService/WhoAmI", "merit.v1.AdminService/CreateToken", "merit.v1.AdminService/RegisterKey",
        "merit.v1.AdminService/Backup",
    };

    /** Request and response bytes as they are: for calls whose bytes need not be a protobuf message. */
    static final MethodDescriptor.Marshaller<byte[]> RAW = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };

    /** Bytes that do not parse as the method's request: random, a truncated varint, a wrong wire type, an overlong length. */
    private Input notProtobuf() {
        String method = h.chance(0.8) ? h.pick(UNARY_METHODS) : h.chance(0.5) ? "merit.v1.ProposalService/Push" : "merit.v1.VersionService/Publish";
        byte[] body = switch (h.below(5)) {
            case 0 -> h.bytes(1 + h.below(300));
            case 1 -> new byte[] {0x0a, (byte) 0xff, (byte) 0xff, (byte) 0xff};
            case 2 -> new byte[] {0x0a, 0x7f, 0x41};
            case 3 -> new byte[] {(byte) 0x08, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80,
                (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, 0x01};
            default -> new byte[] {0x0f, 0x00};
        };
        boolean streaming = method.endsWith("/Push") || method.endsWith("/Publish");
        MethodDescriptor<byte[], byte[]> md = MethodDescriptor.<byte[], byte[]>newBuilder()
                .setType(streaming ? MethodDescriptor.MethodType.CLIENT_STREAMING : MethodDescriptor.MethodType.UNARY)
                .setFullMethodName(method).setRequestMarshaller(RAW).setResponseMarshaller(RAW).build();
        String shown = method + " with bytes " + HexFormat.of().formatHex(body, 0, Math.min(body.length, 64));
        return new Input("not protobuf", shown, () -> {
            Metadata m = new Metadata();
            // A contributor's token: bytes that happen to parse must not reach a maintainer's action.
            m.put(AUTHORIZATION, "Bearer " + alice);
            Channel ch = ClientInterceptors.intercept((ManagedChannel) c.channel(), MetadataUtils.newAttachHeadersInterceptor(m));
            CompletableFuture<byte[]> done = new CompletableFuture<>();
            var call = ch.newCall(md, CallOptions.DEFAULT.withDeadlineAfter(DEADLINE_S, TimeUnit.SECONDS));
            try {
                if (streaming) {
                    StreamObserver<byte[]> in = ClientCalls.asyncClientStreamingCall(call, LoopbackCoordinator.observer(done));
                    in.onNext(body);
                    in.onCompleted();
                } else {
                    ClientCalls.asyncUnaryCall(call, body, LoopbackCoordinator.observer(done));
                }
                return Answer.ok("answered " + done.get(DEADLINE_S + 5, TimeUnit.SECONDS).length + " bytes");
            } catch (TimeoutException e) {
                return new Answer(Status.Code.DEADLINE_EXCEEDED, "no answer", false, null);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            } catch (ExecutionException | RuntimeException e) {
                return Answer.error(e);
            }
        });
    }
}
