/** Merge engine benchmarks: Merit against PyTorch on the same files, and a merge of models many times the heap. */
package dev.merit.bench.merge;
