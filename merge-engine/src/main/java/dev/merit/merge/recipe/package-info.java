/**
 * YAML merge recipes ({@link dev.merit.merge.recipe.Recipe}) and the runner that opens their
 * files or revisions and merges them ({@link dev.merit.merge.recipe.MergeRunner}).
 */
package dev.merit.merge.recipe;
