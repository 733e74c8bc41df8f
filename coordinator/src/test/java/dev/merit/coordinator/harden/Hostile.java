package dev.merit.coordinator.harden;

import java.util.SplittableRandom;

/**
 * Hostile values for the protocol fuzz, drawn from one seeded generator so a run replays
 * exactly: strings with control and unusual Unicode characters, long strings, extreme numbers.
 */
final class Hostile {

    private static final String[] STRINGS = {
        "", " ", "\0", "main\0", "../../etc/passwd", "..\\..\\windows", "%s%n%x%p", "'; drop table proposals; --",
        "<script>alert(1)</script>", "a\r\nX-Injected: 1", "\u202Egnp.exe", "e\u0301\u0301\u0301", "\uD83D\uDE00\uD83D\uDE00",
        "\uFFFF\uFFFE", "\u001b[2J", "\t\n\r\u000b\f", "main ", " main", "MAIN", "refs/heads/main", "main/../main",
        "p1", "p0", "p-1", "p00000000000000000001", "p99999999999999999999", "null", "undefined", "NaN", "-0", "\u0000\u0001\u0002",
    };

    private static final long[] NUMBERS = {
        -1, 0, 1, -2, Long.MAX_VALUE, Long.MIN_VALUE, Long.MAX_VALUE - 1, Long.MIN_VALUE + 1, Integer.MAX_VALUE,
        Integer.MIN_VALUE, 1L << 31, 1L << 32, 1L << 62, 1L << 63 >>> 1, 3_037_000_500L, -(1L << 40), 4L << 20, 64L << 20,
    };

    private final SplittableRandom rng;

    Hostile(SplittableRandom rng) {
        this.rng = rng;
    }

    SplittableRandom rng() {
        return rng;
    }

    int below(int n) {
        return rng.nextInt(n);
    }

    boolean chance(double p) {
        return rng.nextDouble() < p;
    }

    <T> T pick(T[] values) {
        return values[rng.nextInt(values.length)];
    }

    long number() {
        return switch (rng.nextInt(4)) {
            case 0 -> rng.nextLong();
            case 1 -> -1 - rng.nextLong(Long.MAX_VALUE);
            default -> NUMBERS[rng.nextInt(NUMBERS.length)];
        };
    }

    /** A hostile string: a listed one, a long one, random code points (controls included), or a mix. */
    String string() {
        return switch (rng.nextInt(6)) {
            case 0, 1 -> STRINGS[rng.nextInt(STRINGS.length)];
            case 2 -> "x".repeat(1 + rng.nextInt(3)) + "y".repeat(rng.nextInt(9000));
            case 3 -> codePoints(1 + rng.nextInt(300));
            case 4 -> STRINGS[rng.nextInt(STRINGS.length)] + codePoints(1 + rng.nextInt(20));
            default -> rng.nextInt(20) == 0 ? "z".repeat(200_000 + rng.nextInt(100_000)) : codePoints(1 + rng.nextInt(4000));
        };
    }

    /** Random code points, weighted towards controls, private use, bidi and other planes (never a lone surrogate: UTF-8 cannot carry one). */
    String codePoints(int n) {
        StringBuilder b = new StringBuilder(n);
        for (int i = 0; i < n; i++) {
            int cp = switch (rng.nextInt(6)) {
                case 0 -> rng.nextInt(0x20);
                case 1 -> 0x7f + rng.nextInt(0x21);
                case 2 -> 0xE000 + rng.nextInt(0x2000);
                case 3 -> 0x2000 + rng.nextInt(0x70);
                case 4 -> 0x10000 + rng.nextInt(0x100000);
                default -> 0x20 + rng.nextInt(0x5f);
            };
            b.appendCodePoint(cp);
        }
        return b.toString();
    }

    /** Printable ASCII, as gRPC metadata and HTTP header values must be. */
    String ascii(int n) {
        StringBuilder b = new StringBuilder(n);
        for (int i = 0; i < n; i++) {
            b.append((char) (0x21 + rng.nextInt(0x5e)));
        }
        return b.toString();
    }

    byte[] bytes(int n) {
        byte[] b = new byte[n];
        rng.nextBytes(b);
        return b;
    }

    /** {@code s} cut to {@code max} characters for a failure report. */
    static String shorten(String s, int max) {
        if (s == null || s.length() <= max) {
            return s;
        }
        return s.substring(0, max) + "... (" + (s.length() - max) + " more characters)";
    }
}
