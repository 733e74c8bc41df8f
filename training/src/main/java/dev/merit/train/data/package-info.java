/**
 * Training data: MNIST-format idx files ({@link dev.merit.train.data.DataDir}), a held-out
 * validation split and seeded shards of the rest ({@link dev.merit.train.data.ShardSpec}).
 */
package dev.merit.train.data;
