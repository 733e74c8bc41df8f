/**
 * Experiments behind {@code merit experiment}: merge quality (Q1), sparse training (Q2) and poisoned
 * contributors (Q4) on Fashion-MNIST, driving the real trainer ({@code dev.merit.train}) and the real
 * merge engine through recipe files, and writing Markdown, JSON and SVG results.
 */
package dev.merit.experiment;
