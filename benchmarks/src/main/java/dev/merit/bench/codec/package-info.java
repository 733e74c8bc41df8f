/** Size and throughput of the sparse delta codec against the log2 C(n, k) bound and dense float32. */
package dev.merit.bench.codec;
