package dev.merit.merge;

/**
 * DARE's random drops as a pure function of (seed, input, tensor name, position), so a merge
 * repeats exactly whatever the block size, thread count or processing order.
 */
final class Dare {

    private Dare() {}

    static long salt(long seed, int input, String tensor) {
        return mix(mix(seed ^ 0x4d45524954L) + input * 0x9E3779B97F4A7C15L + mix(tensor.hashCode()));
    }

    static long hash(long salt, long position) {
        return mix(salt + position * 0x9E3779B97F4A7C15L);
    }

    /** SplitMix64's finalizer. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
