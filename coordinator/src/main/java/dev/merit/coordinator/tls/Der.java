package dev.merit.coordinator.tls;

import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;

/**
 * The few DER (ASN.1) encodings an X.509 certificate needs. The JDK parses and verifies
 * certificates but has no public API to build one, and this is all a self-signed one takes.
 */
final class Der {

    private Der() {}

    static byte[] sequence(byte[]... parts) {
        return tagged(0x30, concat(parts));
    }

    static byte[] set(byte[]... parts) {
        return tagged(0x31, concat(parts));
    }

    static byte[] integer(BigInteger v) {
        return tagged(0x02, v.toByteArray());
    }

    static byte[] bool(boolean v) {
        return tagged(0x01, new byte[] {(byte) (v ? 0xff : 0)});
    }

    static byte[] octetString(byte[] v) {
        return tagged(0x04, v);
    }

    /** A BIT STRING of whole bytes (no unused bits). */
    static byte[] bitString(byte[] v) {
        return tagged(0x03, concat(new byte[] {0}, v));
    }

    static byte[] utf8(String s) {
        return tagged(0x0c, s.getBytes(StandardCharsets.UTF_8));
    }

    /** UTCTime or GeneralizedTime, whichever X.509 asks for the year (RFC 5280 4.1.2.5). */
    static byte[] time(java.time.Instant t) {
        var utc = t.atZone(java.time.ZoneOffset.UTC);
        if (utc.getYear() >= 1950 && utc.getYear() < 2050) {
            return tagged(0x17, java.time.format.DateTimeFormatter.ofPattern("yyMMddHHmmss'Z'").format(utc).getBytes(StandardCharsets.US_ASCII));
        }
        return tagged(0x18, java.time.format.DateTimeFormatter.ofPattern("yyyyMMddHHmmss'Z'").format(utc).getBytes(StandardCharsets.US_ASCII));
    }

    static byte[] oid(String dotted) {
        String[] arcs = dotted.split("\\.");
        var out = new ByteArrayOutputStream();
        out.write(Integer.parseInt(arcs[0]) * 40 + Integer.parseInt(arcs[1]));
        for (int i = 2; i < arcs.length; i++) {
            long arc = Long.parseLong(arcs[i]);
            int groups = Math.max(1, (64 - Long.numberOfLeadingZeros(arc) + 6) / 7);
            for (int g = groups - 1; g >= 0; g--) {
                int b = (int) ((arc >>> (7 * g)) & 0x7f);
                out.write(g > 0 ? b | 0x80 : b);
            }
        }
        return tagged(0x06, out.toByteArray());
    }

    /** A context-specific tag: constructed (EXPLICIT wrappers) or primitive (IMPLICIT strings). */
    static byte[] context(int number, boolean constructed, byte[] content) {
        return tagged(0x80 | (constructed ? 0x20 : 0) | number, content);
    }

    static byte[] tagged(int tag, byte[] content) {
        var out = new ByteArrayOutputStream(content.length + 6);
        out.write(tag);
        int n = content.length;
        if (n < 0x80) {
            out.write(n);
        } else {
            int bytes = (32 - Integer.numberOfLeadingZeros(n) + 7) / 8;
            out.write(0x80 | bytes);
            for (int i = bytes - 1; i >= 0; i--) {
                out.write(n >>> (8 * i));
            }
        }
        out.writeBytes(content);
        return out.toByteArray();
    }

    static byte[] concat(byte[]... parts) {
        var out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
