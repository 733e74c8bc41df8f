package dev.merit.cli;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.error.MeritException;
import dev.merit.remote.LocalConfig;
import dev.merit.remote.RemoteBranch;
import dev.merit.remote.RemoteClient;
import dev.merit.store.ObjectId;
import dev.merit.store.ProgressListener;
import dev.merit.store.Repository;
import dev.merit.tensor.TensorSource;
import dev.merit.train.Evaluator;
import dev.merit.train.data.DataDir;
import dev.merit.train.data.Examples;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Option;

/**
 * {@code merit demo}: a coordinator, a briefly trained base model, K contributor daemons on
 * Dirichlet shards, R rounds; measures the merged model on the test split after every round.
 */
final class LearningDemo {

    /** The knobs of the learning demo; the defaults are what was measured to meet its goals on 2 cores. */
    static final class Settings {
        @Option(names = "--model", defaultValue = "mlp:784-128-10", description = "Model spec (default ${DEFAULT-VALUE}).")
        String model;

        @Option(names = "--base-steps", defaultValue = "30", description = "Steps of the base model's brief training (default ${DEFAULT-VALUE}).")
        int baseSteps;

        @Option(names = "--steps", defaultValue = "50", description = "Each daemon's training steps per round (default ${DEFAULT-VALUE}).")
        int steps;

        @Option(names = "--lr", defaultValue = "0.1", description = "Each daemon's learning rate (default ${DEFAULT-VALUE}).")
        double lr;

        @Option(names = "--density", defaultValue = "0.005", description = "Fraction of entries an update changes (default ${DEFAULT-VALUE}).")
        double density;

        @Option(names = "--fisher-samples", defaultValue = "64", description = "Examples for each daemon's Fisher estimates (default ${DEFAULT-VALUE}).")
        int fisherSamples;

        @Option(names = "--values", defaultValue = "fp16", description = "Value coding of the updates (default ${DEFAULT-VALUE}).")
        String values;

        @Option(names = "--alpha", defaultValue = "0.5", description = "Dirichlet concentration of the label skew (default ${DEFAULT-VALUE}).")
        double alpha;
    }

    /** One merged round: the version, its test accuracy, and what each contributor reported for it. */
    record Round(int round, long version, String commit, double accuracy, List<JsonNode> contributions) {
        long bytes() {
            return contributions.stream().mapToLong(c -> c.path("bytes_sent").asLong()).sum();
        }

        long denseBytes() {
            return contributions.stream().mapToLong(c -> c.path("dense_bytes").asLong()).sum();
        }
    }

    /** What the demo measured, and whether every step succeeded. */
    record Outcome(boolean ok, String error, double baseAccuracy, List<Round> rounds, Optional<String> reviewUrl, Path work,
                   double seconds) {
        long bytes() {
            return rounds.stream().mapToLong(Round::bytes).sum();
        }

        long denseBytes() {
            return rounds.stream().mapToLong(Round::denseBytes).sum();
        }

        double lastAccuracy() {
            return rounds.isEmpty() ? baseAccuracy : rounds.getLast().accuracy();
        }

        boolean goalsMet() {
            return ok && lastAccuracy() >= baseAccuracy + 0.05 && bytes() > 0 && denseBytes() >= 100 * bytes();
        }

        ObjectNode toJson() {
            ObjectNode n = BaseCommand.JSON.createObjectNode();
            n.put("ok", ok);
            if (error != null) {
                n.put("error", error);
            }
            n.put("dir", work.toString());
            n.put("base_accuracy", baseAccuracy);
            ArrayNode rs = n.putArray("rounds");
            for (Round r : rounds) {
                ObjectNode o = rs.addObject();
                o.put("round", r.round()).put("version", r.version()).put("commit", r.commit()).put("merged_accuracy", r.accuracy())
                        .put("bytes_pushed", r.bytes()).put("dense_bytes", r.denseBytes());
                ArrayNode cs = o.putArray("contributors");
                r.contributions().forEach(c -> cs.addObject().put("name", c.path("name").asText())
                        .put("val_accuracy", c.path("val_accuracy").asDouble()).put("loss", c.path("loss").asDouble())
                        .put("bytes_sent", c.path("bytes_sent").asLong()).put("status", c.path("status").asText()));
            }
            n.put("final_accuracy", lastAccuracy());
            n.put("bytes_pushed", bytes());
            n.put("dense_bytes", denseBytes());
            reviewUrl.ifPresent(u -> n.put("review_url", u));
            n.put("seconds", seconds);
            n.put("goals_met", goalsMet());
            return n;
        }
    }

    private static final ObjectMapper LINES = new ObjectMapper();

    private final Path work;
    private final int k;
    private final int rounds;
    private final Settings s;
    private final boolean keep;
    private final PrintWriter out; // null with --json: nothing but the document is printed
    private final PrintWriter err;

    LearningDemo(Path work, int k, int rounds, Settings s, boolean keep, PrintWriter out, PrintWriter err) {
        this.work = work;
        this.k = k;
        this.rounds = rounds;
        this.s = s;
        this.keep = keep;
        this.out = out;
        this.err = err;
    }

    Outcome call() throws InterruptedException {
        long t0 = System.nanoTime();
        say("Merit demo in %s: %d contributors, %d rounds, %s on Fashion-MNIST", work, k, rounds, s.model);
        say("");
        say("$ merit serve --data coordinator --policy batch --strategy fisher --batch-size %d --http-port 0", k);
        PrintWriter coordLog = out != null ? out : new PrintWriter(Writer.nullWriter());
        CoordinatorProcess coord = CoordinatorProcess.start(work, coordLog, "--data", "coordinator", "--policy", "batch",
                "--strategy", "fisher", "--batch-size", Integer.toString(k), "--batch-seconds", "120", "--kafka", "embedded",
                "--http-port", "0");
        Optional<String> review = coord.httpPort().map(p -> "http://127.0.0.1:" + p + "/");
        List<Process> daemons = new ArrayList<>();
        double baseAccuracy = Double.NaN;
        List<Round> done = new ArrayList<>();
        String error = null;
        try {
            String url = coord.url();
            Path maintainer = work.resolve("maintainer");
            java.nio.file.Files.createDirectories(maintainer);
            run(maintainer, "init", "--model", s.model, "--seed", "1");
            run(maintainer, "train", "--shard", "iid:20:0", "--mask", "none", "--density", "1", "--steps", Integer.toString(s.baseSteps),
                    "--lr", "0.1", "-m", "Base model: " + s.baseSteps + " steps on a 5% IID part");
            run(maintainer, "remote", "add", "origin", url, "--token", coord.adminToken());
            run(maintainer, "push", "origin", "main");
            Examples test = DataDir.of(null).test().all();
            ObjectId baseHead;
            long baseVersion;
            try (RemoteClient c = RemoteClient.connect(url, coord.adminToken())) {
                RemoteBranch b = c.branch("main").orElseThrow(() -> new MeritException("the coordinator has no main after the push"));
                baseHead = b.head();
                baseVersion = b.number();
            }
            try (Repository repo = Repository.open(maintainer)) {
                baseAccuracy = accuracy(repo, baseHead, test);
            }
            say("base model (version %d): test accuracy %.2f%% on %d examples", baseVersion, 100 * baseAccuracy, test.size());

            List<String> names = new ArrayList<>();
            for (int i = 0; i < k; i++) {
                String name = "contributor-" + i;
                names.add(name);
                String token = capture(maintainer, "token", "create", "--name", name, "--role", "contributor").trim();
                String[] lines = token.split("\\R");
                run(work, "clone", url, name, "--token", lines[lines.length - 1].trim());
                run(work.resolve(name), "key", "register");
            }
            ConcurrentLinkedQueue<JsonNode> events = new ConcurrentLinkedQueue<>();
            say("");
            for (int i = 0; i < k; i++) {
                List<String> args = daemonArgs(i);
                say("$ (cd %s && merit %s)", names.get(i), String.join(" ", args));
                daemons.add(startDaemon(work.resolve(names.get(i)), names.get(i), args, events));
            }
            say("");
            try (RemoteClient c = RemoteClient.connect(url, coord.adminToken());
                 Repository repo = Repository.open(maintainer)) {
                LocalConfig cfg = new LocalConfig(repo);
                ObjectId seen = baseHead;
                long until = System.nanoTime() + TimeUnit.MINUTES.toNanos(15);
                while (done.size() < rounds) {
                    if (System.nanoTime() > until) {
                        throw new MeritException("the coordinator made " + done.size() + " of " + rounds + " versions in 15 minutes");
                    }
                    for (int i = 0; i < daemons.size(); i++) {
                        Process p = daemons.get(i);
                        if (!p.isAlive() && p.exitValue() != 0) {
                            throw new MeritException(names.get(i) + "'s daemon exited with code " + p.exitValue() + " (log: "
                                    + work.resolve(names.get(i)).resolve("daemon.log") + ")");
                        }
                    }
                    RemoteBranch b = c.fetch(repo, "main", cfg.haves(), ProgressListener.NONE);
                    if (b.head().equals(seen)) {
                        Thread.sleep(300);
                        continue;
                    }
                    seen = b.head();
                    // The round's pushes were made on the version before this one.
                    long on = b.number() - 1;
                    List<JsonNode> mine = awaitContributions(events, on, daemons);
                    Round r = new Round(done.size() + 1, b.number(), b.head().name(), accuracy(repo, b.head(), test), mine);
                    done.add(r);
                    printRound(r, baseAccuracy);
                }
            }
            for (int i = 0; i < daemons.size(); i++) {
                Process p = daemons.get(i);
                if (!p.waitFor(2, TimeUnit.MINUTES)) {
                    throw new MeritException(names.get(i) + "'s daemon did not finish after its last round");
                }
                if (p.exitValue() != 0) {
                    throw new MeritException(names.get(i) + "'s daemon exited with code " + p.exitValue());
                }
            }
        } catch (MeritException | UncheckedIOException | IOException e) {
            error = e.getMessage();
            err.println("merit demo: " + error);
            err.flush();
        } finally {
            daemons.forEach(p -> {
                if (p.isAlive()) {
                    p.destroy();
                }
            });
            for (Process p : daemons) {
                if (!p.waitFor(30, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            }
            if (!keep) {
                coord.close();
            }
        }
        Outcome o = new Outcome(error == null, error, baseAccuracy, done, review, work, (System.nanoTime() - t0) / 1e9);
        summary(o, coord);
        return o;
    }

    private List<String> daemonArgs(int i) {
        return List.of("daemon", "--json", "--rounds", Integer.toString(rounds),
                "--shard", String.format(Locale.ROOT, "dirichlet:%s:%d:%d", s.alpha, k, i),
                "--steps", Integer.toString(s.steps), "--lr", Double.toString(s.lr), "--density", Double.toString(s.density),
                "--values", s.values, "--fisher-samples", Integer.toString(s.fisherSamples), "--seed", Integer.toString(i + 1));
    }

    private Process startDaemon(Path clone, String name, List<String> args, ConcurrentLinkedQueue<JsonNode> events) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(CoordinatorProcess.launcher().toString());
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd).directory(clone.toFile())
                .redirectError(ProcessBuilder.Redirect.appendTo(clone.resolve("daemon.log").toFile())).start();
        Thread.ofVirtual().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                    if (!l.startsWith("{")) {
                        continue;
                    }
                    JsonNode n = LINES.readTree(l);
                    ((ObjectNode) n).put("name", name);
                    if (n.path("event").asText().equals("round") || n.path("event").asText().equals("unavailable")) {
                        events.add(n);
                    }
                }
            } catch (IOException ignored) {
                // the daemon ended; its exit code is checked
            }
        });
        return p;
    }

    /** Each daemon's report of its push on version {@code on}, waiting a little for the last to print. */
    private List<JsonNode> awaitContributions(ConcurrentLinkedQueue<JsonNode> events, long on, List<Process> daemons)
            throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (true) {
            List<JsonNode> mine = events.stream().filter(e -> e.path("event").asText().equals("round")
                    && e.path("version").asLong() == on).toList();
            if (mine.size() >= daemons.size() || System.nanoTime() > until) {
                return mine.stream().sorted(java.util.Comparator.comparing(e -> e.path("name").asText())).toList();
            }
            Thread.sleep(100);
        }
    }

    private static double accuracy(Repository repo, ObjectId version, Examples test) {
        try (TensorSource src = repo.openVersion(version)) {
            return Evaluator.evaluate(src, Optional.empty(), test, Device.cpu()).accuracy();
        }
    }

    private void printRound(Round r, double base) {
        StringBuilder cs = new StringBuilder();
        for (JsonNode c : r.contributions()) {
            cs.append(String.format("%s %.1f%%  ", c.path("name").asText().replace("contributor-", "#"), 100 * c.path("val_accuracy").asDouble()));
        }
        say("round %d: merged test accuracy %.2f%% (%+.2f points vs base) | contributors' val accuracy: %s| pushed %s vs %s dense f32 (%.0fx less)",
                r.round(), 100 * r.accuracy(), 100 * (r.accuracy() - base), cs, Format.bytes(r.bytes()), Format.bytes(r.denseBytes()),
                r.bytes() == 0 ? 0.0 : (double) r.denseBytes() / r.bytes());
    }

    private void summary(Outcome o, CoordinatorProcess coord) {
        say("");
        o.reviewUrl().ifPresent(u -> say("review page: %s%s", u, keep ? "" : " (while the coordinator runs: --keep)"));
        if (keep) {
            say("the coordinator keeps running (%s, process %d); stop it with kill %d", coord.url(), coord.pid(), coord.pid());
        }
        say("run any step by hand (in %s):", work);
        say("  merit serve --data coordinator --policy batch --strategy fisher --batch-size %d", k);
        say("  cd contributor-0 && merit %s", String.join(" ", daemonArgs(0)).replace(" --json", ""));
        say("  cd maintainer && merit pull && merit eval --split test");
        say("  cd maintainer && merit log --oneline && merit proposals");
        if (!o.ok()) {
            say("verdict: FAILED: %s", o.error());
            return;
        }
        double gain = 100 * (o.lastAccuracy() - o.baseAccuracy());
        double ratio = o.bytes() == 0 ? 0 : (double) o.denseBytes() / o.bytes();
        say("verdict: %s: %d contributors took the model from %.2f%% to %.2f%% test accuracy (%+.2f points) in %d rounds, "
                        + "pushing %.0fx fewer bytes than dense float32, in %.0f s",
                o.goalsMet() ? "OK" : "goals missed (want >= +5 points and >= 100x)", k, 100 * o.baseAccuracy(),
                100 * o.lastAccuracy(), gain, o.rounds().size(), ratio, o.seconds());
    }

    private void run(Path dir, String... args) {
        say("$ merit %s", String.join(" ", args));
        StringWriter buf = new StringWriter();
        PrintWriter w = new PrintWriter(buf, true);
        int rc = Main.run(dir, w, w, args);
        if (out != null) {
            buf.toString().lines().forEach(l -> out.println("  " + l));
            out.flush();
        }
        if (rc != 0) {
            throw new MeritException("merit " + String.join(" ", args) + " failed with exit code " + rc + ": " + buf.toString().trim());
        }
    }

    private String capture(Path dir, String... args) {
        StringWriter buf = new StringWriter();
        int rc = Main.run(dir, new PrintWriter(buf, true), err, args);
        if (rc != 0) {
            throw new MeritException("merit " + String.join(" ", args) + " failed with exit code " + rc);
        }
        return buf.toString();
    }

    private void say(String format, Object... args) {
        if (out != null) {
            out.println(args.length == 0 ? format : String.format(format, args));
            out.flush();
        }
    }
}
