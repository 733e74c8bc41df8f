package dev.merit.coordinator.cli;

import dev.merit.coordinator.Coordinator;
import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.coordinator.proposals.RequestLimits;
import dev.merit.coordinator.proposals.UploadLimits;
import dev.merit.coordinator.tls.DevCertificate;
import dev.merit.coordinator.tls.ServerTls;
import dev.merit.coordinator.validate.AccuracyEvaluator;
import dev.merit.coordinator.validate.QualityGate;
import dev.merit.coordinator.validate.ValidationConfig;
import dev.merit.error.InvalidInputException;
import dev.merit.merge.MergeParameters;
import dev.merit.merge.Strategy;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "serve", mixinStandardHelpOptions = true, header = "Run a coordinator: contributors push proposals to it, it validates and merges them.",
        description = {"On first start it creates an admin (maintainer) token and prints it once."})
final class ServeCommand implements Callable<Integer> {

    @ParentCommand
    CoordinatorMain.Root root;

    @Spec
    CommandSpec spec;

    @Option(names = "--data", defaultValue = "merit-coordinator", description = "Data directory (default: ./merit-coordinator).")
    Path data;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to listen on (default: 127.0.0.1).")
    String host;

    @Option(names = "--port", defaultValue = "7070", description = "gRPC port (default: 7070).")
    int port;

    @Option(names = "--http-port", defaultValue = "8080", description = "HTTP port for metrics and pages; -1 for none (default: 8080).")
    int httpPort;

    @Option(names = "--kafka", defaultValue = "embedded", description = "embedded (default), HOST:PORT, or none.")
    String kafka;

    @Option(names = "--kafka-config", paramLabel = "FILE",
            description = "Kafka client properties (security.protocol, sasl.*, ssl.*) for an external cluster given with --kafka HOST:PORT. "
                    + "The embedded broker makes its own credential: DATA/kafka/client.properties.")
    Path kafkaConfig;

    @Option(names = "--policy", defaultValue = "auto", description = "manual, auto (default) or batch.")
    String policy;

    @Option(names = "--strategy", defaultValue = "average", description = "Merge strategy, e.g. average (default), fisher (proposals must carry a Fisher), ties, regmean (proposals"
                    + " must carry a Gram matrix per linear layer: merit train --regmean).")
    String strategy;

    @Option(names = "--server-lr", paramLabel = "ETA", defaultValue = "1",
            description = "Server learning rate: a merge moves the head by ETA x the merged change (default ${DEFAULT-VALUE}).")
    double serverLr;

    @Option(names = "--server-momentum", paramLabel = "BETA", defaultValue = "0",
            description = "Server momentum (FedAvgM): the head moves by ETA x v, v = BETA v + the merged change; 0 is off "
                    + "(default ${DEFAULT-VALUE}). Kept in memory: a restart starts it from zero.")
    double serverMomentum;

    @Option(names = "--merge-param", paramLabel = "NAME=VALUE",
            description = "A merge parameter, as in a recipe (e.g. average_over=touched, fisher_floor=1e-6); repeatable.")
    java.util.Map<String, String> mergeParams = new java.util.LinkedHashMap<>();

    @Option(names = "--batch-size", defaultValue = "8", description = "batch: merge every N accepted proposals (default 8).")
    int batchSize;

    @Option(names = "--batch-seconds", defaultValue = "30", description = "batch: or T seconds after the oldest waiting one (default 30).")
    long batchSeconds;

    @Option(names = "--staleness-limit", defaultValue = "10", description = "Reject proposals more than this many versions behind (default 10).")
    int stalenessLimit;

    @Option(names = "--staleness-exponent", defaultValue = "0.5", description = "a in the staleness weight (1+s)^-a (default 0.5).")
    double stalenessExponent;

    @Option(names = "--max-norm", defaultValue = "Infinity", description = "Largest L2 norm of a whole change (default: no limit).")
    double maxNorm;

    @Option(names = "--max-tensor-norm", defaultValue = "Infinity", description = "Largest L2 norm of one tensor's change (default: no limit).")
    double maxTensorNorm;

    @Option(names = "--max-density", defaultValue = "1", description = "Largest fraction of entries a proposal may change (default: 1, any).")
    double maxDensity;

    @Option(names = "--gate", paramLabel = "DATA_DIR",
            description = "Quality gate: score each proposal applied to the head on the held-out validation split of this "
                    + "MNIST-format data directory ('default' for merit's default data) and reject it if accuracy drops too much.")
    String gate;

    @Option(names = "--gate-on", paramLabel = "proposals|merges|both", defaultValue = "proposals",
            description = "What the gate scores: each proposal applied to the head (proposals, the default), each merge of a "
                    + "batch before it lands (merges: proposals that make it fail are left out, a minority at most), or both. "
                    + "With non-IID contributors each proposal alone may score below the head while their merge does not.")
    String gateOn;

    @Option(names = "--gate-max-drop", paramLabel = "P", defaultValue = "1",
            description = "Largest accuracy drop in points the gate lets through (default ${DEFAULT-VALUE}).")
    double gateMaxDrop;

    @Option(names = "--gate-examples", paramLabel = "N", defaultValue = "2000",
            description = "Held-out examples the gate scores on (default ${DEFAULT-VALUE}).")
    int gateExamples;

    @Option(names = "--max-message-chars", defaultValue = "4096", description = "Longest proposal or review message (default 4096).")
    int maxMessageChars;

    @Option(names = "--pushes-per-minute", defaultValue = "120", description = "Pushes one contributor may start per minute (default 120).")
    int pushesPerMinute;

    @Option(names = "--page-size", defaultValue = "500", description = "Most proposals one listing returns (default 500).")
    int pageSize;

    @Option(names = "--max-uploads", defaultValue = "4", description = "Uploads one contributor may stream at once (default 4).")
    int maxUploads;

    @Option(names = "--max-staged-mib", defaultValue = "16384", description = "MiB one contributor may have staged in uploads (default 16384).")
    long maxStagedMib;

    @Option(names = "--upload-idle-minutes", defaultValue = "60", description = "Delete uploads not written for this long (default 60).")
    long uploadIdleMinutes;

    @Option(names = "--tls-cert", paramLabel = "FILE",
            description = "Serve gRPC and HTTP over TLS with this PEM certificate chain (the server's certificate first); needs --tls-key.")
    Path tlsCert;

    @Option(names = "--tls-key", paramLabel = "FILE", description = "The PEM PKCS#8 private key (RSA or EC) of --tls-cert.")
    Path tlsKey;

    @Option(names = "--tls", paramLabel = "self-signed",
            description = "self-signed: serve over TLS with a development certificate made in DATA/tls on first start and reused"
                    + " afterwards; clients pin its printed fingerprint.")
    String tlsMode;

    /** The merge policy these options describe; bad names or values throw with the parameter named. */
    PolicyConfig policyConfig() {
        java.util.Map<String, Object> params = new java.util.LinkedHashMap<>(mergeParams);
        if (params.keySet().stream().anyMatch(k -> k.replace('-', '_').equalsIgnoreCase("step_size"))) {
            throw new InvalidInputException("--merge-param step_size: set the server learning rate with --server-lr");
        }
        params.put("step_size", serverLr);
        return PolicyConfig.defaults().withPolicy(MergePolicy.parse(policy)).withStrategy(Strategy.parse(strategy))
                .withBatch(batchSize, Duration.ofSeconds(batchSeconds))
                .withParameters(MergeParameters.defaults().with(params)).withServerMomentum(serverMomentum);
    }

    @Override
    public Integer call() throws InterruptedException {
        PolicyConfig pc = policyConfig();
        ValidationConfig vc = ValidationConfig.defaults().withNorms(maxTensorNorm, maxNorm).withDensity(0, maxDensity)
                .withStaleness(stalenessLimit, stalenessExponent);
        Path dir = root.workDir().resolve(data).normalize();
        PrintWriter out = spec.commandLine().getOut();
        Coordinator.Builder b = Coordinator.builder(dir).listen(host, port).policy(pc).validation(vc).httpPort(httpPort)
                .requestLimits(new RequestLimits(maxMessageChars, pushesPerMinute, pageSize))
                .uploadLimits(new UploadLimits(maxUploads, maxStagedMib << 20, Duration.ofMinutes(uploadIdleMinutes)));
        AccuracyEvaluator gateEvaluator = null;
        if (gate == null && !gateOn.equals("proposals")) {
            throw new dev.merit.error.InvalidInputException("--gate-on " + gateOn + " needs --gate DATA_DIR (the data the gate scores on)");
        }
        if (gate != null) {
            Path gateData = gate.equals("default") ? null : root.workDir().resolve(gate).normalize();
            gateEvaluator = AccuracyEvaluator.validationSplit(gateData, gateExamples);
            QualityGate g = new QualityGate(gateEvaluator, gateMaxDrop);
            switch (gateOn) {
                case "proposals" -> b.qualityGate(g);
                case "merges" -> b.mergeGate(g);
                case "both" -> b.qualityGate(g).mergeGate(g);
                default -> throw new dev.merit.error.InvalidInputException("--gate-on must be proposals, merges or both, got '" + gateOn + "'");
            }
        }
        Optional<DevCertificate.Loaded> dev = Optional.empty();
        ServerTls tls = null;
        if (tlsMode != null) {
            if (!tlsMode.equals("self-signed")) {
                throw new InvalidInputException("--tls " + tlsMode + ": the only mode is self-signed (or give --tls-cert and --tls-key)");
            }
            if (tlsCert != null || tlsKey != null) {
                throw new InvalidInputException("--tls self-signed and --tls-cert/--tls-key exclude each other: choose one");
            }
            dev = Optional.of(DevCertificate.loadOrCreate(dir, host));
            tls = dev.get().tls();
        } else if (tlsCert != null || tlsKey != null) {
            if (tlsCert == null || tlsKey == null) {
                throw new InvalidInputException(tlsCert == null ? "--tls-key needs --tls-cert (the certificate of that key)"
                        : "--tls-cert needs --tls-key (the certificate's private key)");
            }
            tls = ServerTls.fromPem(root.workDir().resolve(tlsCert).normalize(), root.workDir().resolve(tlsKey).normalize());
        }
        b.tls(tls);
        if (!kafka.equals("none")) {
            b.kafka(kafka).kafkaConfig(kafkaConfig == null ? null : root.workDir().resolve(kafkaConfig).normalize());
        }
        CountDownLatch stop = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        // On SIGTERM/Ctrl-C the hook lets run() close the coordinator and waits for it, so merges
        // finish and the repository closes cleanly before the JVM exits.
        Thread hook = new Thread(() -> {
            stop.countDown();
            try {
                closed.await(60, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "merit-serve-shutdown");
        try (Coordinator c = b.start()) {
            out.printf("Merit coordinator on %s:%d %s(data %s, policy %s, strategy %s)%n", host, c.port(), tls == null ? "" : "over TLS ",
                    dir, pc.policy().id(), pc.strategy().id());
            String scheme = tls == null ? "http" : "https";
            c.httpPort().ifPresent(p -> out.printf("Review page on %s://%s:%d/ (metrics at /metrics)%n", scheme, host, p));
            if (dev.isPresent()) {
                out.printf("TLS: self-signed development certificate %s (%s)%n", dev.get().certFile(), dev.get().created() ? "made now" : "reused");
            } else if (tls != null) {
                out.println("TLS: " + tls.source());
            }
            if (tls != null) {
                out.println("TLS certificate fingerprint: " + tls.fingerprint());
                if (dev.isPresent()) {
                    out.printf("  clients: merit remote add origin merits://%s:%d --pin %s%n", host, c.port(), tls.fingerprint());
                }
            }
            c.events().ifPresent(e -> out.println("Kafka at " + e.bootstrapServers()));
            if (gateEvaluator != null) {
                out.printf("Quality gate on %s: %s, at most %.3g points lower%n", gateOn, gateEvaluator.describe(), gateMaxDrop);
            }
            c.initialAdminToken().ifPresent(t -> out.println("Admin token (shown once): " + t));
            out.flush();
            Runtime.getRuntime().addShutdownHook(hook);
            stop.await();
        } finally {
            closed.countDown();
        }
        return 0;
    }
}
