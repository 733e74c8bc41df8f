/** Training throughput: Merit's masked trainer against a bare DJL loop and PyTorch. */
package dev.merit.bench.train;
