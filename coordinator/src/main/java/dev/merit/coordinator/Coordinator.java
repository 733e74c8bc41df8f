package dev.merit.coordinator;

import dev.merit.coordinator.auth.AdminService;
import dev.merit.coordinator.auth.KeyRegistry;
import dev.merit.coordinator.auth.TokenStore;
import dev.merit.coordinator.events.EventBus;
import dev.merit.coordinator.grpc.GrpcServices;
import dev.merit.coordinator.http.HttpEndpoint;
import dev.merit.coordinator.metrics.CoordinatorMetrics;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.coordinator.policy.PolicyRunner;
import dev.merit.coordinator.proposals.ProposalLedger;
import dev.merit.coordinator.proposals.ProposalRecord;
import dev.merit.coordinator.proposals.ProposalService;
import dev.merit.coordinator.proposals.ProposalStore;
import dev.merit.coordinator.proposals.RequestLimits;
import dev.merit.coordinator.proposals.UploadLimits;
import dev.merit.coordinator.proposals.Uploads;
import dev.merit.coordinator.review.ReviewService;
import dev.merit.coordinator.tls.ServerTls;
import dev.merit.coordinator.validate.QualityGate;
import dev.merit.coordinator.validate.ValidationChain;
import dev.merit.coordinator.validate.ValidationConfig;
import dev.merit.store.Repository;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * The coordinator: a repository under a data directory, the proposal pipeline, the merge
 * policy and the gRPC server in front of them.
 *
 * <pre>{@code
 * try (Coordinator c = Coordinator.builder(dataDir).policy(PolicyConfig.defaults()).listen("127.0.0.1", 0).start()) {
 *     c.initialAdminToken().ifPresent(t -> System.out.println("admin token: " + t));
 *     ... c.port() ...
 * }
 * }</pre>
 */
public final class Coordinator implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(Coordinator.class.getName());

    private final Repository repo;
    private final Optional<String> adminToken;
    private final Versions versions;
    private final ProposalService proposals;
    private final PolicyRunner policy;
    private final VersionService versionService;
    private final AdminService admin;
    private final Server server;
    private final ExecutorService executor;
    private final List<AutoCloseable> extras;
    private final CoordinatorMetrics metrics;
    private final Optional<EventBus> events;
    private final Optional<HttpEndpoint> http;
    private final ServerTls tls;

    private Coordinator(Builder b) {
        Path data = b.dataDir.toAbsolutePath().normalize();
        this.tls = b.tls;
        this.repo = Files.isDirectory(data.resolve(Repository.DIR_NAME).resolve("db")) ? Repository.open(data) : Repository.init(data);
        List<AutoCloseable> started = new ArrayList<>();
        try {
            Path tmp = data.resolve(Repository.DIR_NAME).resolve("coordinator-tmp");
            clear(tmp);
            TokenStore tokens = new TokenStore(repo);
            this.adminToken = tokens.bootstrap("admin");
            KeyRegistry keys = new KeyRegistry(repo);
            this.metrics = new CoordinatorMetrics();
            if (b.kafka != null) {
                EventBus bus = EventBus.start(repo, data, b.kafka, b.kafkaConfig, metrics);
                started.add(bus);
                this.events = Optional.of(bus);
            } else {
                this.events = Optional.empty();
            }
            if (b.httpPort >= 0) {
                HttpEndpoint h = HttpEndpoint.start(b.host, b.httpPort, metrics, Optional.ofNullable(b.tls).map(ServerTls::sslContext));
                started.add(h);
                this.http = Optional.of(h);
            } else {
                this.http = Optional.empty();
            }
            Runnable wake = () -> {
                events.ifPresent(EventBus::wakeRelay);
                b.hooks.eventsWritten().run();
            };
            // Collaborators in dependency order, each given what it uses: versions, the proposal
            // ledger, the policy (merges through versions), then the service that feeds the policy.
            this.versions = new Versions(repo, wake);
            versions.addListener(v -> metrics.headVersion(v.branch(), v.number()));
            repo.branches().forEach((br, id) -> metrics.headVersion(br, versions.number(id)));
            ProposalLedger ledger = new ProposalLedger(new ProposalStore(repo), wake, b.requestLimits);
            ValidationConfig vc = b.validation.withRequireFisher(b.validation.requireFisher() || b.policy.strategy().needsFisher())
                    .withRequireGram(b.validation.requireGram() || b.policy.strategy() == dev.merit.merge.Strategy.REGMEAN);
            this.policy = new PolicyRunner(b.policy, ledger, versions, vc,
                    Optional.ofNullable(b.gate).or(() -> Optional.ofNullable(b.mergeGate)).map(QualityGate::evaluator),
                    Optional.ofNullable(b.mergeGate),
                    (branch, commit, n, took) -> {
                        metrics.mergeDuration(took);
                        b.hooks.merged(branch, commit, n, took);
                    }, e -> LOG.log(Level.WARNING, "merge failed", e));
            started.add(policy);
            ValidationChain validation = ValidationChain.standard(vc, repo, versions::behindHead,
                    keys::find, keys::refuseIfSignedByFormerKey, ledger.store()::byDigest, versions::requireHead, Optional.ofNullable(b.gate), tmp);
            Uploads uploads = new Uploads(data.resolve(Repository.DIR_NAME).resolve("uploads"), b.uploadLimits);
            started.add(uploads);
            this.proposals = new ProposalService(ledger, uploads, validation,
                    versions::behindHead, versions::requireHead, policy, r -> {
                        if (r.status() == ProposalRecord.Status.REJECTED) {
                            metrics.proposalRejected(r.checks().stream().filter(c -> !c.passed()).map(c -> c.name()).findFirst().orElse("review"));
                        } else {
                            metrics.proposalAccepted();
                        }
                    });
            ReviewService review = new ReviewService(tokens, proposals, policy, versions);
            http.ifPresent(h -> h.serveReviewPage(review, events.map(EventBus::feed)));
            this.versionService = new VersionService(versions);
            this.admin = new AdminService(tokens, keys, Optional.of(repo));
            this.executor = Executors.newVirtualThreadPerTaskExecutor();
            ServerBuilder<?> sb = b.serverBuilder;
            if (sb == null) {
                NettyServerBuilder netty = NettyServerBuilder.forAddress(new InetSocketAddress(b.host, b.port));
                if (b.tls != null) {
                    netty.sslContext(b.tls.grpcContext());
                }
                sb = netty;
            }
            GrpcServices.create(tokens, admin, proposals, policy, versionService, n -> {
                metrics.bytesReceived(n);
                b.hooks.bytesReceived(n);
            }).forEach(sb::addService);
            this.server = sb.executor(executor).build().start();
            List<AutoCloseable> ex = new ArrayList<>(b.hooks.closeables());
            ex.add(uploads);
            http.ifPresent(ex::add);
            events.ifPresent(ex::add);
            this.extras = List.copyOf(ex);
        } catch (IOException e) {
            closeAll(started);
            repo.close();
            throw new UncheckedIOException("cannot start the gRPC server on " + b.host + ":" + b.port + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeAll(started);
            repo.close();
            throw e;
        }
    }

    public static Builder builder(Path dataDir) {
        return new Builder(dataDir);
    }

    /** The maintainer token created on the first start (print it once); empty on later starts. */
    public Optional<String> initialAdminToken() {
        return adminToken;
    }

    /** The port the server listens on (the real one when 0 was asked for). */
    public int port() {
        return server.getPort();
    }

    public CoordinatorMetrics metrics() {
        return metrics;
    }

    /** The event bus, when Kafka was configured. */
    public Optional<EventBus> events() {
        return events;
    }

    /** The certificate both ports serve, when TLS was configured. */
    public Optional<ServerTls> tls() {
        return Optional.ofNullable(tls);
    }

    /** The HTTP endpoint's port, when one was asked for. */
    public Optional<Integer> httpPort() {
        return http.map(HttpEndpoint::port);
    }

    public Repository repository() {
        return repo;
    }

    public Versions versions() {
        return versions;
    }

    public PolicyRunner policy() {
        return policy;
    }

    /** Versions as a service (role-checked): branches, log, fetch, publish, watch. */
    public VersionService versionService() {
        return versionService;
    }

    /** Identity as a service (role-checked): who am I, tokens, keys. */
    public AdminService admin() {
        return admin;
    }

    public ProposalService proposals() {
        return proposals;
    }

    /** Blocks until the server stops. */
    public void awaitTermination() throws InterruptedException {
        server.awaitTermination();
    }

    @Override
    public void close() {
        server.shutdown();
        try {
            if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
                server.shutdownNow();
                server.awaitTermination(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            server.shutdownNow();
        }
        executor.close();
        // Merges finish before the repository closes; extras (event relay) close before it too.
        policy.close();
        closeAll(extras);
        repo.close();
    }

    private static void closeAll(List<AutoCloseable> cs) {
        for (AutoCloseable c : cs) {
            try {
                c.close();
            } catch (Exception e) {
                LOG.log(Level.WARNING, "closing " + c, e);
            }
        }
    }

    private static void clear(Path dir) {
        try {
            if (Files.exists(dir)) {
                try (Stream<Path> s = Files.walk(dir)) {
                    for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                        Files.deleteIfExists(p);
                    }
                }
            }
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot clear " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * What the coordinator tells the outside (event relay, metrics) without depending on how:
     * the server facade that starts Kafka and metrics passes an implementation.
     */
    public interface Hooks {
        /** Outbox events were written; wake the relay. */
        default Runnable eventsWritten() {
            return () -> {};
        }

        default void merged(String branch, PolicyRunner.ObjectIdName commit, int proposals, java.time.Duration took) {}

        default void bytesReceived(long n) {}

        /** Closed when the coordinator closes, before its repository. */
        default List<AutoCloseable> closeables() {
            return List.of();
        }
    }

    /** Configures and starts a {@link Coordinator}. */
    public static final class Builder {
        private final Path dataDir;
        private ValidationConfig validation = ValidationConfig.defaults();
        private PolicyConfig policy = PolicyConfig.defaults();
        private QualityGate gate;
        private QualityGate mergeGate;
        private ServerBuilder<?> serverBuilder;
        private String host = "127.0.0.1";
        private int port = 7070;
        private Hooks hooks = new Hooks() {};
        private String kafka;
        private Path kafkaConfig;
        private int httpPort = -1;
        private UploadLimits uploadLimits = UploadLimits.defaults();
        private RequestLimits requestLimits = RequestLimits.defaults();
        private ServerTls tls;

        private Builder(Path dataDir) {
            this.dataDir = Objects.requireNonNull(dataDir);
        }

        public Builder validation(ValidationConfig v) {
            this.validation = Objects.requireNonNull(v);
            return this;
        }

        public Builder policy(PolicyConfig p) {
            this.policy = Objects.requireNonNull(p);
            return this;
        }

        /** Scores each proposal applied to the head when it arrives, and rejects it if the score drops too much. */
        public Builder qualityGate(QualityGate g) {
            this.gate = g;
            return this;
        }

        /**
         * Scores each policy merge (the batch combined by the strategy) against the head before it
         * lands, leaving out the proposals that make it drop too much; see {@code MergeRunner#gate}.
         */
        public Builder mergeGate(QualityGate g) {
            this.mergeGate = g;
            return this;
        }

        /** Serve on this transport instead (tests pass an in-process builder). */
        public Builder serverBuilder(ServerBuilder<?> sb) {
            this.serverBuilder = sb;
            return this;
        }

        public Builder listen(String host, int port) {
            this.host = host;
            this.port = port;
            return this;
        }

        /** "embedded" or "host:port": publish events through Kafka (otherwise they wait in the outbox). */
        public Builder kafka(String kafka) {
            this.kafka = kafka;
            return this;
        }

        /** Client settings (SASL, TLS) for an external Kafka cluster, as a properties file; null for none. */
        public Builder kafkaConfig(Path clientConfig) {
            this.kafkaConfig = clientConfig;
            return this;
        }

        /** Serve metrics, the review page and its API over HTTP on this port; -1 for none. */
        public Builder httpPort(int port) {
            this.httpPort = port;
            return this;
        }

        /** What one contributor may hold in staged uploads (streams at once, bytes, idle expiry). */
        public Builder uploadLimits(UploadLimits limits) {
            this.uploadLimits = Objects.requireNonNull(limits);
            return this;
        }

        /** Message sizes, pushes per minute per contributor, listing page size. */
        public Builder requestLimits(RequestLimits limits) {
            this.requestLimits = Objects.requireNonNull(limits);
            return this;
        }

        /**
         * Serve the gRPC port and the HTTP port over TLS with this certificate; null (default) for
         * plain text. Applies to the Netty server this builder makes, not to a {@link #serverBuilder}.
         */
        public Builder tls(ServerTls t) {
            this.tls = t;
            return this;
        }

        public Builder hooks(Hooks h) {
            this.hooks = Objects.requireNonNull(h);
            return this;
        }

        public Coordinator start() {
            return new Coordinator(this);
        }
    }
}
