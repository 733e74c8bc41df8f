package dev.merit.coordinator.harden;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Malformed and hostile HTTP/1.1 requests against the coordinator's real HTTP port, written on a
 * raw socket so nothing is cleaned up on the way: hostile paths and percent-encodings, unknown
 * and malformed methods, bad tokens, hostile query strings, malformed, nested, oversized and
 * ill-typed JSON bodies on the review API's actions, wrong content types and origins, lying
 * Content-Length and chunked framing, oversized and malformed headers, and request lines that are
 * not HTTP at all. Each input gets one {@link Answer}; the test judges it.
 */
final class HttpFuzz {

    /** The status line's code (-1: the connection closed without an answer, -2: no answer in time) and the body's start. */
    record Answer(int status, String detail) {}

    /** One generated request: its category, how to show it, and its bytes. */
    record Input(String category, String shown, byte[] request, boolean halfClose) {}

    private static final int TIMEOUT_MS = 15_000;
    private static final String[] PATHS = {
        "/api/session", "/api/proposals", "/api/proposals/%s", "/api/proposals/%s/approve", "/api/proposals/%s/reject",
        "/api/merges", "/api/branches", "/api/branches/main/versions", "/api/strategies", "/api/events", "/metrics", "/",
        "/index.html", "/app.js", "/app.css", "/favicon.svg",
    };
    private static final String[] METHODS = {
        "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "HEAD", "CONNECT", "get", "Post", "PROPFIND", "BREW", "G\u00c9T",
    };
    private static final String[] CONTENT_TYPES = {
        "application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x", "application/json; charset=utf-16", "APPLICATION/JSON", "application/jsonp", "",
        "application/json\u0000", "*/*",
    };

    private final int port;
    private final Hostile h;
    private final String admin;
    private final String alice;
    private final String reader;
    private final String pendingId;
    private final String rejectedId;

    HttpFuzz(int port, Hostile h, String admin, String alice, String reader, String pendingId, String rejectedId) {
        this.port = port;
        this.h = h;
        this.admin = admin;
        this.alice = alice;
        this.reader = reader;
        this.pendingId = pendingId;
        this.rejectedId = rejectedId;
    }

    Input next() {
        int k = h.below(100);
        if (k < 14) {
            return path();
        } else if (k < 24) {
            return method();
        } else if (k < 38) {
            return auth();
        } else if (k < 48) {
            return query();
        } else if (k < 74) {
            return body();
        } else if (k < 90) {
            return headers();
        }
        return framing();
    }

    // ------------------------------------------------------------------ building requests

    /** A request under construction: request line, headers, body. */
    private final class Request {
        String method = "GET";
        byte[] target;
        final List<String> headers = new ArrayList<>();
        byte[] body = new byte[0];
        boolean contentLength = true;
        boolean halfClose;

        Request(String path) {
            target = path.getBytes(StandardCharsets.UTF_8);
            headers.add("Host: 127.0.0.1:" + port);
            headers.add("Connection: close");
        }

        Request token(String token) {
            headers.add("Authorization: Bearer " + token);
            return this;
        }

        Request json(String s) {
            method = "POST";
            headers.add("Content-Type: application/json");
            body = s.getBytes(StandardCharsets.UTF_8);
            return this;
        }

        Input build(String category, String shown) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.writeBytes(method.getBytes(StandardCharsets.UTF_8));
            out.write(' ');
            out.writeBytes(target);
            out.writeBytes(" HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII));
            List<String> hs = new ArrayList<>(headers);
            if (contentLength && (body.length > 0 || method.equals("POST") || method.equals("PUT"))) {
                hs.add("Content-Length: " + body.length);
            }
            for (String x : hs) {
                out.writeBytes(x.getBytes(StandardCharsets.UTF_8));
                out.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
            }
            out.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
            out.writeBytes(body);
            String line = method + " " + new String(target, StandardCharsets.UTF_8);
            return new Input(category, Hostile.shorten(line, 300) + " | " + Hostile.shorten(String.join(" | ", headers.subList(2, headers.size())), 300)
                    + (body.length > 0 ? " | body " + body.length + " bytes: " + Hostile.shorten(new String(body, StandardCharsets.UTF_8), 300) : "")
                    + (shown.isEmpty() ? "" : " | " + shown), out.toByteArray(), halfClose);
        }
    }

    private String anyPath() {
        return String.format(h.pick(PATHS), h.chance(0.5) ? rejectedId : "p" + h.below(1000));
    }

    /** A token: the maintainer's, a contributor's, a reader's. */
    private String someToken() {
        return switch (h.below(3)) {
            case 0 -> admin;
            case 1 -> alice;
            default -> reader;
        };
    }

    // ------------------------------------------------------------------ categories

    private Input path() {
        String base = anyPath();
        String p = switch (h.below(10)) {
            case 0 -> base + "/" + h.ascii(1 + h.below(30)).replace("?", "").replace("#", "");
            case 1 -> base.replace("/api", "/api/" + "../".repeat(1 + h.below(5)));
            case 2 -> base + "%" + (h.chance(0.5) ? "" : "z");
            case 3 -> base.replace("/", "//");
            case 4 -> "/api/proposals/" + "%2e%2e%2f".repeat(1 + h.below(4)) + "metrics";
            case 5 -> "/api/proposals/" + "a".repeat(2000 + h.below(9000));
            case 6 -> "/api/branches/" + pct(h.string()) + "/versions";
            case 7 -> "/api/proposals/" + pct(h.string());
            case 8 -> "/api/" + pct(h.string());
            default -> base + "%00" + h.ascii(3).replace("?", "").replace("#", "");
        };
        Request r = new Request(p).token(someToken());
        if (h.chance(0.3)) {
            // Raw bytes that are not UTF-8 in the request target.
            byte[] t = r.target;
            byte[] raw = new byte[t.length + 2];
            System.arraycopy(t, 0, raw, 0, t.length);
            raw[t.length] = (byte) 0xff;
            raw[t.length + 1] = (byte) 0xc0;
            r.target = raw;
        }
        avoidEventStream(r, p);
        return r.build("path", "");
    }

    /** The event stream with a valid token streams (or, without Kafka, is unavailable): never sent a valid GET. */
    private void avoidEventStream(Request r, String path) {
        if (path.startsWith("/api/events") && r.method.equals("GET")) {
            r.headers.removeIf(x -> x.startsWith("Authorization"));
            r.headers.add("Authorization: Bearer not-a-token");
        }
    }

    private Input method() {
        String p = anyPath();
        String m = switch (h.below(4)) {
            case 0 -> h.ascii(1 + h.below(40));
            case 1 -> "X".repeat(1000 + h.below(9000));
            default -> h.pick(METHODS);
        };
        Request r = new Request(p).token(someToken());
        r.method = m;
        if (m.equals("POST")) {
            r.headers.add("Content-Type: text/plain");
        }
        if (m.equalsIgnoreCase("CONNECT")) {
            r.target = "127.0.0.1:1".getBytes(StandardCharsets.US_ASCII);
        }
        avoidEventStream(r, p);
        return r.build("method", "");
    }

    private Input auth() {
        String p = anyPath();
        Request r = new Request(p);
        String value = switch (h.below(11)) {
            case 0 -> null;
            case 1 -> "Bearer";
            case 2 -> "Bearer ";
            case 3 -> "Bearer " + h.ascii(1 + h.below(100));
            case 4 -> "Basic " + java.util.Base64.getEncoder().encodeToString(("alice:" + alice).getBytes(StandardCharsets.UTF_8));
            case 5 -> "Bearer " + alice + "x";
            case 6 -> "Bearer " + h.ascii(4000 + h.below(8000));
            case 7 -> "Bearer " + h.codePoints(1 + h.below(20)).replace("\r", "").replace("\n", "");
            case 8 -> alice;
            case 9 -> "Bearer x\u0000" + admin;
            default -> "Bearer mrt_" + h.ascii(43);
        };
        if (value != null) {
            r.headers.add("Authorization: " + value);
        }
        if (h.chance(0.2)) {
            r.headers.add("Authorization: Bearer " + h.ascii(20));
            value += " + a second Authorization";
        }
        if (h.chance(0.3)) {
            r.headers.add("Cookie: token=" + admin);
            value += " + the admin token in a cookie";
        }
        if (p.contains("/approve") || p.contains("/reject") || p.equals("/api/merges")) {
            r.method = "POST";
            r.headers.add("Content-Type: application/json");
            r.body = ("{\"proposals\":[\"" + pendingId + "\"],\"branch\":\"main\",\"strategy\":\"average\"}").getBytes(StandardCharsets.UTF_8);
            r.target = p.replace(rejectedId, pendingId).getBytes(StandardCharsets.UTF_8);
        }
        return r.build("auth", "authorization " + Hostile.shorten(String.valueOf(value), 100));
    }

    private Input query() {
        String p = h.chance(0.5) ? "/api/proposals" : "/api/branches/main/versions";
        String q = switch (h.below(9)) {
            case 0 -> "limit=" + pct(Long.toString(h.number()));
            case 1 -> "limit=" + pct(h.string());
            case 2 -> "status=" + pct(h.string());
            case 3 -> "branch=" + pct(h.string()) + "&contributor=" + pct(h.string());
            case 4 -> "access_token=" + admin;
            case 5 -> "%zz=1&limit=%";
            case 6 -> "limit=1&limit=0&" + "x=1&".repeat(1 + h.below(2000));
            case 7 -> h.ascii(1 + h.below(300)).replace("#", "");
            default -> "status=" + h.pick(new String[] {"ACCEPTED", "pending", "all", "merged", "Rejected", ""}) + "&limit=" + h.below(20000);
        };
        return new Request(p + "?" + q).token(someToken()).build("query", "");
    }

    /** JSON bodies for the actions: malformed, nested past any sane depth, oversized, ill-typed, hostile values. */
    private Input body() {
        int target = h.below(3);
        String path = switch (target) {
            case 0 -> "/api/merges";
            case 1 -> "/api/proposals/" + pickId() + "/approve";
            default -> "/api/proposals/" + pickId() + "/reject";
        };
        String json = switch (h.below(16)) {
            case 0 -> "{";
            case 1 -> "[]";
            case 2 -> "\"just a string\"";
            case 3 -> "[".repeat(1000 + h.below(20000));
            case 4 -> "{\"a\":".repeat(500 + h.below(5000)) + "1" + "}".repeat(10);
            case 5 -> "{\"message\":\"" + "m".repeat(70_000 + h.below(200_000)) + "\"}";
            case 6 -> "{\"proposals\":" + h.pick(new String[] {"\"p1\"", "7", "null", "{}", "[1,2]", "[null]", "[[\"p1\"]]"})
                    + ",\"branch\":\"main\",\"strategy\":\"average\"}";
            case 7 -> "{\"proposals\":[\"" + jsonString(h.string()) + "\"],\"branch\":\"main\",\"strategy\":\"average\"}";
            case 8 -> "{\"proposals\":[\"" + rejectedId + "\"],\"branch\":\"" + jsonString(h.string()) + "\",\"strategy\":\""
                    + jsonString(h.chance(0.5) ? h.string() : h.pick(new String[] {"average", "fisher", "ties", "dare", "median", "krum"})) + "\"}";
            case 9 -> "{\"proposals\":[\"" + rejectedId + "\"],\"branch\":\"main\",\"strategy\":\"average\",\"parameters\":" + parameters() + "}";
            case 10 -> "{\"proposals\":[\"" + rejectedId + "\"],\"branch\":\"main\",\"strategy\":\"average\",\"preview\":"
                    + h.pick(new String[] {"\"yes\"", "1", "null", "[]", "{}", "tru"}) + "}";
            case 11 -> "{\"reason\":" + h.pick(new String[] {"null", "\"\"", "\"   \"", "42", "[\"x\"]", "{}", "true"}) + ",\"message\":7}";
            case 12 -> "{\"reason\":\"" + jsonString(h.string()) + "\",\"message\":\"" + jsonString(h.string()) + "\"}";
            case 13 -> "{\"proposals\":[" + ("\"" + rejectedId + "\",").repeat(1 + h.below(5000)) + "\"" + rejectedId
                    + "\"],\"branch\":\"main\",\"strategy\":\"average\",\"preview\":true}";
            case 14 -> "{\"x\":1e999999,\"y\":-0,\"z\":123456789012345678901234567890,\"proposals\":[],\"branch\":\"main\",\"strategy\":\"average\"}";
            default -> new String(h.bytes(1 + h.below(500)), StandardCharsets.ISO_8859_1);
        };
        Request r = new Request(path).token(h.chance(0.8) ? admin : someToken()).json(json);
        if (h.chance(0.1)) {
            r.body = h.bytes(1 + h.below(100));
        }
        return r.build("body " + (target == 0 ? "merges" : target == 1 ? "approve" : "reject"), "");
    }

    /** A proposal id for an action: never the pending proposal, which a maintainer's valid action would decide. */
    private String pickId() {
        String id = switch (h.below(4)) {
            case 0 -> rejectedId;
            case 1 -> pct(h.string());
            case 2 -> "p" + h.number();
            default -> "p" + (1000 + h.below(100000));
        };
        return id.matches("p0*" + pendingId.substring(1)) ? rejectedId : id;
    }

    private String parameters() {
        return switch (h.below(8)) {
            case 0 -> "[]";
            case 1 -> "\"eta\"";
            case 2 -> "{\"eta\":\"" + jsonString(h.string()) + "\"}";
            case 3 -> "{\"eta\":" + h.pick(new String[] {"-1", "0", "1e308", "-1e308", "1e-320", "NaN", "null", "[]", "{}"}) + "}";
            case 4 -> "{\"" + jsonString(h.string()) + "\":1}";
            case 5 -> "{\"trim\":2,\"density\":-3,\"drop\":1.5,\"seed\":\"x\"}";
            case 6 -> "{\"eta\":" + h.number() + ",\"staleness_exponent\":" + h.number() + "}";
            default -> "{\"k\":" + h.number() + ",\"krum_f\":" + h.number() + ",\"trim_fraction\":" + h.rng().nextDouble() * 10 + "}";
        };
    }

    private Input headers() {
        String path = h.chance(0.5) ? "/api/merges" : "/api/proposals/" + pickId() + (h.chance(0.5) ? "/approve" : "/reject");
        Request r = new Request(path).token(h.chance(0.8) ? admin : someToken());
        r.method = "POST";
        String body = "{\"proposals\":[\"" + pendingId + "\"],\"branch\":\"main\",\"strategy\":\"average\"}";
        r.body = body.getBytes(StandardCharsets.UTF_8);
        // Every request here carries one fault in its headers, so the valid body must never act.
        String what;
        switch (h.below(12)) {
            case 0 -> {
                String ct = h.pick(CONTENT_TYPES);
                if (ct.toLowerCase(Locale.ROOT).startsWith("application/json")) {
                    ct = "text/json";
                }
                r.headers.add("Content-Type: " + ct);
                what = "content type";
            }
            case 1 -> {
                r.headers.add("Content-Type: application/json");
                r.headers.add("Origin: " + h.pick(new String[] {"http://evil.example", "null", "https://127.0.0.1:" + (port + 1), "file://",
                    "http://127.0.0.1:" + port + ".evil.example"}));
                what = "cross-site origin";
            }
            case 2 -> {
                r.headers.add("Content-Type: application/json");
                r.contentLength = false;
                r.headers.add("Content-Length: " + h.pick(new String[] {"-1", "abc", "99999999999999999999", "1 1", "0x10", "+5", ""}));
                what = "malformed Content-Length";
            }
            case 3 -> {
                r.headers.add("Content-Type: application/json");
                r.contentLength = false;
                r.headers.add("Content-Length: " + (r.body.length + 1 + h.below(1000)));
                r.halfClose = true;
                what = "Content-Length past the body (then half-close)";
            }
            case 4 -> {
                r.headers.add("Content-Type: application/json");
                r.contentLength = false;
                r.headers.add("Transfer-Encoding: chunked");
                r.body = (h.pick(new String[] {"zz\r\n", "ffffffffffffffff\r\nab\r\n", "5\r\nab\r\n0\r\n\r\n", "-1\r\n\r\n", "3;ext=\u0000\r\nabc"})
                        ).getBytes(StandardCharsets.ISO_8859_1);
                r.halfClose = true;
                what = "malformed chunked body";
            }
            case 5 -> {
                r.headers.add("Content-Type: application/json");
                r.contentLength = false;
                r.headers.add("Content-Length: 3");
                r.headers.add("Transfer-Encoding: chunked");
                r.body = "0\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
                r.halfClose = true;
                what = "Content-Length and chunked together (short body)";
            }
            case 6 -> {
                r.headers.add("Content-Type: application/json");
                for (int i = 0, n = 200 + h.below(2000); i < n; i++) {
                    r.headers.add("X-F" + i + ": " + h.ascii(20));
                }
                r.headers.add("Origin: http://evil.example");
                what = "thousands of headers, cross-site";
            }
            case 7 -> {
                r.headers.add("Content-Type: application/json");
                r.headers.add("X-Long: " + h.ascii(10_000 + h.below(100_000)));
                r.headers.add("Origin: http://evil.example");
                what = "a header line of 10-110 KB, cross-site";
            }
            case 8 -> {
                r.headers.add(h.pick(new String[] {"no colon at all", ": empty name", " folded: line", "X\u0000: nul", "Content-Type : application/json"}));
                r.headers.add("Content-Type: text/plain");
                what = "malformed header line";
            }
            case 9 -> {
                r.headers.add("Content-Type: application/json");
                r.headers.add("Content-Type: text/plain");
                r.headers.add("Origin: http://evil.example");
                what = "two content types, cross-site";
            }
            case 10 -> {
                r.headers.add("Content-Type: application/json");
                r.headers.add("Expect: 100-continue");
                r.headers.add("Origin: null");
                what = "Expect: 100-continue, origin null";
            }
            default -> {
                r.headers.add("Content-Type: application/json; charset=" + h.ascii(5));
                r.headers.removeIf(x -> x.startsWith("Authorization"));
                r.headers.add("Authorization: Bearer " + h.ascii(30));
                what = "unknown charset, unknown token";
            }
        }
        // Past the JDK server's header-count limit no handler runs: it hangs up, which is framing's answer.
        return r.build(what.startsWith("thousands") ? "framing: header count" : "headers", what);
    }

    /** Bytes that are not an HTTP/1.1 request, or only barely. */
    private Input framing() {
        String line = switch (h.below(12)) {
            case 0 -> "GET\r\n\r\n";
            case 1 -> "GET /\r\n\r\n";
            case 2 -> "\r\n\r\n";
            case 3 -> "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
            case 4 -> "GET /api/session HTTP/9.9\r\nHost: x\r\n\r\n";
            case 5 -> "GET http://evil.example/api/session HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n";
            case 6 -> "GET /api/session HTTP/1.1\nHost: x\nConnection: close\n\n";
            case 7 -> "GET /api/session HTTP/1.1\r\n" + "Host: x\r\n".repeat(2) + "Connection: close\r\n\r\n";
            case 8 -> "GET  /api/session  HTTP/1.1\r\nConnection: close\r\n\r\n";
            case 9 -> "GET /api/session HTTP/1.0\r\n\r\n";
            case 10 -> "GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
            default -> null;
        };
        byte[] bytes = line != null ? line.getBytes(StandardCharsets.ISO_8859_1) : h.bytes(1 + h.below(2000));
        return new Input("framing", Hostile.shorten(line != null ? line.replace("\r", "\\r").replace("\n", "\\n") : bytes.length + " random bytes", 200),
                bytes, true);
    }

    // ------------------------------------------------------------------ sending

    /** A plain GET of {@code path} with {@code token}. */
    Answer get(String path, String token) {
        return send(new Request(path).token(token).build("get", ""));
    }

    Answer send(Input in) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), TIMEOUT_MS);
            s.setSoTimeout(TIMEOUT_MS);
            OutputStream out = s.getOutputStream();
            try {
                out.write(in.request());
                out.flush();
                if (in.halfClose()) {
                    s.shutdownOutput();
                }
            } catch (IOException e) {
                // The server may refuse and close before it has read everything; its answer is still there to read.
            }
            return read(s.getInputStream());
        } catch (SocketTimeoutException e) {
            return new Answer(-2, "no answer within " + TIMEOUT_MS + " ms");
        } catch (IOException e) {
            return new Answer(-1, "connection failed: " + e);
        }
    }

    private static Answer read(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        int n;
        try {
            while (b.size() < 4096 && (n = in.read(buf)) > 0) {
                b.write(buf, 0, n);
            }
        } catch (java.net.SocketException reset) {
            // A reset after the answer was written: what arrived is the answer.
        }
        String text = b.toString(StandardCharsets.ISO_8859_1);
        if (text.startsWith("HTTP/1.1 100 ") && text.indexOf("\r\n\r\n") > 0) {
            // An interim "100 Continue": the answer is what follows it.
            text = text.substring(text.indexOf("\r\n\r\n") + 4);
            if (text.isEmpty()) {
                try {
                    while (b.size() < 8192 && (n = in.read(buf)) > 0) {
                        b.write(buf, 0, n);
                    }
                } catch (java.net.SocketException reset) {
                    // as above
                }
                String all = b.toString(StandardCharsets.ISO_8859_1);
                text = all.substring(all.indexOf("\r\n\r\n") + 4);
            }
        }
        if (!text.startsWith("HTTP/1.")) {
            return new Answer(-1, text.isEmpty() ? "closed without an answer" : "not an HTTP answer: " + Hostile.shorten(text, 200));
        }
        int sp = text.indexOf(' ');
        int status = Integer.parseInt(text.substring(sp + 1, sp + 4));
        int bodyAt = text.indexOf("\r\n\r\n");
        return new Answer(status, text.substring(sp + 1, text.indexOf("\r\n")) + (bodyAt > 0 ? " " + Hostile.shorten(text.substring(bodyAt + 4), 300) : ""));
    }

    // ------------------------------------------------------------------ helpers

    /** Percent-encodes every byte that is not unreserved, so hostile strings travel in the target as bytes. */
    private static String pct(String s) {
        StringBuilder b = new StringBuilder();
        for (byte x : s.getBytes(StandardCharsets.UTF_8)) {
            int c = x & 0xff;
            if (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
                b.append((char) c);
            } else {
                b.append('%').append(String.format("%02X", c));
            }
        }
        return b.toString();
    }

    private static String jsonString(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
