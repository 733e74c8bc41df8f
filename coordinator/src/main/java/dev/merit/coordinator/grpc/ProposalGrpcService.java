package dev.merit.coordinator.grpc;

import dev.merit.coordinator.auth.Principal;
import dev.merit.coordinator.policy.PolicyRunner;
import dev.merit.coordinator.proposals.ProposalRecord;
import dev.merit.coordinator.proposals.ProposalService;
import dev.merit.coordinator.proposals.PushSession;
import dev.merit.error.InvalidInputException;
import dev.merit.proto.v1.GetProposalRequest;
import dev.merit.proto.v1.GetUploadRequest;
import dev.merit.proto.v1.GetUploadResponse;
import dev.merit.proto.v1.ListProposalsRequest;
import dev.merit.proto.v1.ListProposalsResponse;
import dev.merit.proto.v1.Proposal;
import dev.merit.proto.v1.ProposalServiceGrpc;
import dev.merit.proto.v1.PushRequest;
import dev.merit.proto.v1.PushResponse;
import dev.merit.proto.v1.ReviewRequest;
import dev.merit.wire.WireConvert;
import io.grpc.stub.StreamObserver;
import java.util.function.LongConsumer;

/** Adapts {@code merit.v1.ProposalService} to {@link ProposalService} and the {@link PolicyRunner}. */
final class ProposalGrpcService extends ProposalServiceGrpc.ProposalServiceImplBase {

    private final ProposalService proposals;
    private final PolicyRunner policy;
    private final LongConsumer bytesReceived;

    ProposalGrpcService(ProposalService proposals, PolicyRunner policy, LongConsumer bytesReceived) {
        this.proposals = proposals;
        this.policy = policy;
        this.bytesReceived = bytesReceived;
    }

    @Override
    public StreamObserver<PushRequest> push(StreamObserver<PushResponse> out) {
        Principal who = AuthInterceptor.principal();
        return new StreamObserver<>() {
            private PushSession session;
            private boolean done;

            @Override
            public void onNext(PushRequest req) {
                if (done) {
                    return;
                }
                try {
                    if (req.hasHeader()) {
                        if (session != null) {
                            throw new InvalidInputException("push: a second header in one stream");
                        }
                        session = proposals.open(who, WireConvert.spec(req.getHeader()), req.getHeader().getResumeOffset());
                        session.result().ifPresent(this::reply);
                    } else {
                        if (session == null) {
                            throw new InvalidInputException("push: payload before the header");
                        }
                        bytesReceived.accept(req.getData().size());
                        session.accept(req.getData().toByteArray()).ifPresent(this::reply);
                    }
                } catch (RuntimeException e) {
                    fail(e);
                }
            }

            @Override
            public void onError(Throwable t) {
                // The stream broke: the staged bytes stay for a resume.
                if (session != null) {
                    session.close();
                }
                done = true;
            }

            @Override
            public void onCompleted() {
                if (done) {
                    return;
                }
                try {
                    if (session == null) {
                        throw new InvalidInputException("push: the stream ended without a header");
                    }
                    reply(session.finish());
                } catch (RuntimeException e) {
                    fail(e);
                }
            }

            private void reply(ProposalRecord r) {
                done = true;
                long from = session.resumedFrom();
                session.close();
                out.onNext(PushResponse.newBuilder().setProposal(Convert.proposal(r)).setResumedFrom(from).build());
                out.onCompleted();
            }

            private void fail(RuntimeException e) {
                done = true;
                if (session != null) {
                    session.close();
                }
                out.onError(Errors.toStatus(e));
            }
        };
    }

    @Override
    public void getUpload(GetUploadRequest req, StreamObserver<GetUploadResponse> out) {
        Errors.unary(out, () -> {
            long off = proposals.uploadOffset(AuthInterceptor.principal(), req.getUploadId());
            return GetUploadResponse.newBuilder().setExists(off >= 0).setOffset(Math.max(0, off)).build();
        });
    }

    @Override
    public void listProposals(ListProposalsRequest req, StreamObserver<ListProposalsResponse> out) {
        Errors.unary(out, () -> {
            ProposalService.Page page = proposals.page(AuthInterceptor.principal(), req.getBranch(), Convert.status(req.getStatus()),
                    req.getLimit(), req.getPageToken());
            return ListProposalsResponse.newBuilder().addAllProposals(page.proposals().stream().map(Convert::proposal).toList())
                    .setNextPageToken(page.next()).build();
        });
    }

    @Override
    public void getProposal(GetProposalRequest req, StreamObserver<Proposal> out) {
        Errors.unary(out, () -> Convert.proposal(proposals.get(AuthInterceptor.principal(), req.getId())));
    }

    @Override
    public void review(ReviewRequest req, StreamObserver<Proposal> out) {
        Errors.unary(out, () -> Convert.proposal(policy.review(AuthInterceptor.principal(), req.getId(), req.getApprove(), req.getMessage())));
    }
}
