/** Sparse changes to tensors: their representation, how they are computed from two versions, and statistics about them. */
package dev.merit.delta;
