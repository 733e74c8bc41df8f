/** Element types, tensor descriptions and the {@link dev.merit.tensor.TensorSource} abstraction over sets of tensors. */
package dev.merit.tensor;
