package dev.merit.coordinator.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.merit.coordinator.CoordinatorException;
import dev.merit.coordinator.Json;
import dev.merit.coordinator.auth.Principal;
import dev.merit.coordinator.auth.Role;
import dev.merit.coordinator.events.EventFeed;
import dev.merit.coordinator.proposals.ProposalRecord;
import dev.merit.coordinator.review.ReviewService;
import dev.merit.error.InvalidInputException;
import dev.merit.error.NotFoundException;
import dev.merit.merge.MergeParameters;
import dev.merit.merge.Strategy;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The JSON API under {@code /api/}: routes, reads the bearer token from the {@code Authorization}
 * header (never a cookie, never the URL), parses bodies, calls {@link ReviewService} and maps its
 * errors to HTTP statuses in one place. No decisions are made here.
 *
 * <p>Cross-site requests cannot act: a browser sends no {@code Authorization} header on a forged
 * form or image request, actions accept only {@code application/json} bodies (which a form
 * cannot send without a preflight this server never grants), and a request whose {@code Origin}
 * is not this server is refused.
 */
final class ReviewApi implements HttpHandler {

    private static final Logger LOG = Logger.getLogger(ReviewApi.class.getName());
    private static final int MAX_BODY = 64 * 1024;
    private static final Pattern PROPOSAL = Pattern.compile("/api/proposals/([^/]+)");
    private static final Pattern DECISION = Pattern.compile("/api/proposals/([^/]+)/(approve|reject)");
    private static final Pattern VERSIONS = Pattern.compile("/api/branches/([^/]+)/versions");

    private final ReviewService review;
    private final Optional<EventFeed> feed;

    ReviewApi(ReviewService review, Optional<EventFeed> feed) {
        this.review = review;
        this.feed = feed;
    }

    /** A refusal with its HTTP status and a one-line reason. */
    static final class ApiError extends RuntimeException {
        final int status;

        ApiError(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    @Override
    public void handle(HttpExchange ex) throws IOException {
        try (ex) {
            Http.securityHeaders(ex);
            ex.getResponseHeaders().set("Cache-Control", "no-store");
            try {
                route(ex);
            } catch (ApiError e) {
                error(ex, e.status, e.getMessage());
            } catch (CoordinatorException e) {
                error(ex, switch (e.kind()) {
                    case UNAUTHENTICATED -> 401;
                    case PERMISSION_DENIED -> 403;
                    case ALREADY_EXISTS, FAILED_PRECONDITION -> 409;
                    case ABORTED -> 503;
                    case RESOURCE_EXHAUSTED -> 429;
                }, e.getMessage());
            } catch (NotFoundException e) {
                error(ex, 404, e.getMessage());
            } catch (InvalidInputException e) {
                error(ex, 400, e.getMessage());
            } catch (IOException e) {
                throw e;
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "HTTP " + ex.getRequestMethod() + " " + ex.getRequestURI().getPath() + " failed", e);
                error(ex, 500, "internal error: " + e.getClass().getSimpleName());
            }
        }
    }

    private void route(HttpExchange ex) throws IOException {
        URI uri = ex.getRequestURI();
        String path = uri.getPath();
        String method = ex.getRequestMethod();
        Map<String, String> query = query(uri.getRawQuery());
        if (query.keySet().stream().anyMatch(k -> k.toLowerCase(Locale.ROOT).contains("token"))) {
            throw new ApiError(400, "tokens go in the 'Authorization: Bearer' header, never in the URL");
        }
        Matcher m;
        if (path.equals("/api/session")) {
            allow(ex, "GET");
            send(ex, 200, ApiJson.session(caller(ex)));
        } else if (path.equals("/api/proposals")) {
            allow(ex, "GET");
            Principal who = caller(ex);
            Optional<ProposalRecord.Status> status = status(query.getOrDefault("status", ""));
            int limit = integer(query.getOrDefault("limit", "200"), "limit");
            ArrayNode out = Json.MAPPER.createArrayNode();
            review.list(who, query.getOrDefault("branch", ""), status, query.getOrDefault("contributor", ""), limit)
                    .forEach(v -> out.add(ApiJson.proposal(v)));
            send(ex, 200, out);
        } else if ((m = DECISION.matcher(path)).matches()) {
            allow(ex, "POST");
            Principal who = caller(ex);
            ObjectNode body = body(ex);
            String id = m.group(1);
            String action = m.group(2);
            ProposalRecord r;
            if (action.equals("approve")) {
                r = review.approve(who, id, text(body, "message", false));
            } else {
                r = review.reject(who, id, text(body, "reason", true));
            }
            LOG.info(() -> "review page: " + who.name() + " " + action + "d " + id + " (now " + r.status().name().toLowerCase() + ")");
            send(ex, 200, Json.object().put("id", r.id()).put("status", r.status().name().toLowerCase())
                    .put("merged_in", r.mergedIn().orElse(null)).put("review", r.review().orElse(null)));
        } else if ((m = PROPOSAL.matcher(path)).matches()) {
            allow(ex, "GET");
            send(ex, 200, ApiJson.detail(review.detail(caller(ex), m.group(1))));
        } else if (path.equals("/api/merges")) {
            allow(ex, "POST");
            merge(ex, caller(ex), body(ex));
        } else if (path.equals("/api/branches")) {
            allow(ex, "GET");
            caller(ex).require(Role.READER, "listing branches");
            ArrayNode out = Json.MAPPER.createArrayNode();
            review.branches().forEach(out::add);
            send(ex, 200, out);
        } else if ((m = VERSIONS.matcher(path)).matches()) {
            allow(ex, "GET");
            Principal who = caller(ex);
            ArrayNode out = Json.MAPPER.createArrayNode();
            review.history(who, decode(m.group(1)), integer(query.getOrDefault("limit", "200"), "limit"))
                    .forEach(v -> out.add(ApiJson.version(v)));
            send(ex, 200, out);
        } else if (path.equals("/api/strategies")) {
            allow(ex, "GET");
            caller(ex);
            ArrayNode out = Json.MAPPER.createArrayNode();
            for (Strategy s : Strategy.values()) {
                out.add(s.id());
            }
            send(ex, 200, out);
        } else if (path.equals("/api/events")) {
            allow(ex, "GET");
            Principal who = caller(ex);
            EventFeed f = feed.orElseThrow(() -> new ApiError(503,
                    "no event stream: this coordinator runs without Kafka (start it with --kafka embedded)"));
            String token = ex.getRequestHeaders().getFirst("Authorization").substring(7).trim();
            new EventStream(f, who, () -> review.authenticate(token)).serve(ex);
        } else {
            throw new ApiError(404, "no such API path: " + path);
        }
    }

    private void merge(HttpExchange ex, Principal who, ObjectNode body) throws IOException {
        String branch = text(body, "branch", true);
        JsonNode ps = body.path("proposals");
        if (!ps.isArray()) {
            throw new ApiError(400, "field 'proposals' must be an array of proposal ids");
        }
        List<String> ids = new ArrayList<>();
        for (JsonNode p : ps) {
            if (!p.isTextual()) {
                throw new ApiError(400, "field 'proposals' must hold proposal ids (strings), found " + p.getNodeType().name().toLowerCase());
            }
            ids.add(p.asText());
        }
        Strategy strategy = Strategy.parse(text(body, "strategy", true));
        MergeParameters params = MergeParameters.defaults();
        JsonNode pn = body.path("parameters");
        if (!pn.isMissingNode() && !pn.isNull()) {
            if (!pn.isObject()) {
                throw new ApiError(400, "field 'parameters' must be an object of name: value");
            }
            Map<String, Object> values = new LinkedHashMap<>();
            pn.properties().forEach(e -> values.put(e.getKey(), e.getValue().isNumber() ? e.getValue().numberValue()
                    : e.getValue().isBoolean() ? (Object) e.getValue().booleanValue() : e.getValue().asText()));
            params = params.with(values);
        }
        JsonNode preview = body.path("preview");
        if (!preview.isMissingNode() && !preview.isBoolean()) {
            throw new ApiError(400, "field 'preview' must be true or false");
        }
        if (preview.asBoolean(false)) {
            send(ex, 200, ApiJson.preview(branch, strategy.id(), review.preview(who, branch, ids, strategy, params)));
        } else {
            List<ProposalRecord> merged = review.merge(who, branch, ids, strategy, params);
            LOG.info(() -> "review page: " + who.name() + " merged " + ids + " on '" + branch + "' with " + strategy.id());
            send(ex, 200, ApiJson.merged(merged));
        }
    }

    private Principal caller(HttpExchange ex) {
        String h = ex.getRequestHeaders().getFirst("Authorization");
        if (h == null || h.isBlank()) {
            throw new CoordinatorException(CoordinatorException.Kind.UNAUTHENTICATED,
                    "no token: send the header 'Authorization: Bearer <token>'");
        }
        if (!h.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw new CoordinatorException(CoordinatorException.Kind.UNAUTHENTICATED,
                    "the Authorization header must be 'Bearer <token>'");
        }
        return review.authenticate(h.substring(7).trim());
    }

    private static void allow(HttpExchange ex, String method) {
        if (!ex.getRequestMethod().equals(method)) {
            ex.getResponseHeaders().set("Allow", method);
            throw new ApiError(405, "method " + ex.getRequestMethod() + " not allowed on " + ex.getRequestURI().getPath() + " (use " + method + ")");
        }
        if (method.equals("POST")) {
            String origin = ex.getRequestHeaders().getFirst("Origin");
            String host = ex.getRequestHeaders().getFirst("Host");
            if (origin != null && (host == null || !(origin.equals("http://" + host) || origin.equals("https://" + host)))) {
                throw new ApiError(403, "cross-site request refused: Origin " + origin + " is not this server");
            }
            String type = ex.getRequestHeaders().getFirst("Content-Type");
            if (type == null || !type.toLowerCase(Locale.ROOT).startsWith("application/json")) {
                throw new ApiError(415, "actions take a JSON body: send 'Content-Type: application/json'");
            }
        }
    }

    private static ObjectNode body(HttpExchange ex) throws IOException {
        byte[] b;
        try {
            b = ex.getRequestBody().readNBytes(MAX_BODY + 1);
        } catch (IOException e) {
            // A body shorter than its Content-Length, or chunks that are not chunks: the client's fault.
            throw new ApiError(400, "request body could not be read (" + e.getMessage() + "): send exactly Content-Length bytes or well-formed chunks");
        }
        if (b.length > MAX_BODY) {
            throw new ApiError(413, "request body is larger than " + MAX_BODY + " bytes");
        }
        if (b.length == 0) {
            return Json.object();
        }
        JsonNode n;
        try {
            n = Json.MAPPER.readTree(b);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new ApiError(400, "request body is not valid JSON: " + e.getOriginalMessage());
        }
        if (!(n instanceof ObjectNode o)) {
            throw new ApiError(400, "request body must be a JSON object");
        }
        return o;
    }

    private static String text(ObjectNode body, String field, boolean required) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) {
            if (required) {
                throw new ApiError(400, "field '" + field + "' is required");
            }
            return "";
        }
        if (!n.isTextual()) {
            throw new ApiError(400, "field '" + field + "' must be a string");
        }
        if (required && n.asText().isBlank()) {
            throw new ApiError(400, "field '" + field + "' must not be empty");
        }
        return n.asText();
    }

    private static Optional<ProposalRecord.Status> status(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "", "all" -> Optional.empty();
            case "accepted", "pending" -> Optional.of(ProposalRecord.Status.ACCEPTED);
            case "rejected" -> Optional.of(ProposalRecord.Status.REJECTED);
            case "merged" -> Optional.of(ProposalRecord.Status.MERGED);
            default -> throw new ApiError(400, "status '" + s + "' is not one of pending, accepted, rejected, merged");
        };
    }

    private static int integer(String s, String name) {
        try {
            int v = Integer.parseInt(s);
            if (v < 1 || v > 10_000) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new ApiError(400, "'" + name + "' must be a whole number from 1 to 10000, got '" + s + "'");
        }
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> out = new LinkedHashMap<>();
        if (raw == null || raw.isEmpty()) {
            return out;
        }
        for (String kv : raw.split("&")) {
            int eq = kv.indexOf('=');
            out.put(decode(eq < 0 ? kv : kv.substring(0, eq)), eq < 0 ? "" : decode(kv.substring(eq + 1)));
        }
        return out;
    }

    private static String decode(String s) {
        try {
            return URLDecoder.decode(s, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new ApiError(400, "malformed URL encoding in '" + s + "'");
        }
    }

    private static void error(HttpExchange ex, int status, String message) throws IOException {
        if (status == 401) {
            ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"merit\"");
        }
        send(ex, status, Json.object().put("error", message).put("status", status));
    }

    static void send(HttpExchange ex, int status, JsonNode body) throws IOException {
        byte[] b = Json.bytes(body);
        ex.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream os = ex.getResponseBody()) {
            os.write(b);
        }
    }
}
