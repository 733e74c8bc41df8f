/** Throughput and size of the versioned model store. */
package dev.merit.bench.store;
