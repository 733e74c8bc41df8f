package dev.merit.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.delta.ChangeSummary;
import dev.merit.delta.TensorChange;
import java.io.PrintWriter;

/** Prints a {@link ChangeSummary} for people (a table) or scripts (JSON), as status, diff and show do. */
final class ChangeReport {

    private ChangeReport() {}

    static ObjectNode toJson(ChangeSummary s) {
        ObjectNode root = BaseCommand.JSON.createObjectNode();
        ObjectNode total = root.putObject("total");
        total.put("entries", s.numel());
        total.put("changed_entries", s.changed());
        total.put("changed_fraction", s.changedFraction());
        total.put("change_l2", s.changeL2());
        total.put("relative_change_norm", finite(s.relativeNorm()));
        total.put("max_abs_change", s.maxAbsChange());
        total.put("non_finite_changes", s.nonFinite());
        ArrayNode tensors = root.putArray("tensors");
        for (TensorChange t : s.tensors()) {
            ObjectNode n = tensors.addObject();
            n.put("name", t.name());
            n.put("entries", t.numel());
            n.put("changed_entries", t.changed());
            n.put("changed_fraction", t.changedFraction());
            n.put("change_l2", t.changeL2());
            n.put("relative_change_norm", finite(t.relativeNorm()));
            n.put("max_abs_change", t.maxAbsChange());
            n.put("non_finite_changes", t.nonFinite());
        }
        ArrayNode added = root.putArray("added");
        s.added().forEach(added::add);
        ArrayNode removed = root.putArray("removed");
        s.removed().forEach(removed::add);
        ArrayNode layout = root.putArray("layout_changed");
        for (ChangeSummary.LayoutChange c : s.layoutChanged()) {
            ObjectNode n = layout.addObject();
            n.put("name", c.after().name());
            n.put("before", c.before().dtype() + c.before().shapeString());
            n.put("after", c.after().dtype() + c.after().shapeString());
        }
        return root;
    }

    /** JSON has no infinity: a relative change of a tensor that was all zeros is reported as null. */
    private static Double finite(double v) {
        return Double.isFinite(v) ? v : null;
    }

    static void print(ChangeSummary s, PrintWriter out, boolean onlyChanged) {
        int width = Math.max(6, s.tensors().stream().mapToInt(t -> t.name().length()).max().orElse(6));
        String fmt = "%-" + width + "s %12s %9s %11s %10s %11s%n";
        out.printf(fmt, "tensor", "changed", "fraction", "change L2", "relative", "max |chg|");
        for (TensorChange t : s.tensors()) {
            if (onlyChanged && t.changed() == 0) {
                continue;
            }
            out.printf(fmt, t.name(), t.changed(), Format.percent(t.changedFraction()), Format.num(t.changeL2()),
                    Format.num(t.relativeNorm()), Format.num(t.maxAbsChange()));
        }
        s.added().forEach(n -> out.println("added:   " + n));
        s.removed().forEach(n -> out.println("removed: " + n));
        s.layoutChanged().forEach(c -> out.println("layout:  " + c.after().name() + " " + c.before().dtype()
                + c.before().shapeString() + " -> " + c.after().dtype() + c.after().shapeString()));
        out.printf("total: %d of %d entries changed (%s), change L2 %s (%s of the old norm), max |change| %s%n",
                s.changed(), s.numel(), Format.percent(s.changedFraction()), Format.num(s.changeL2()),
                Format.num(s.relativeNorm()), Format.num(s.maxAbsChange()));
        if (s.nonFinite() > 0) {
            out.printf("warning: %d changed entries are NaN or infinite (left out of the norms)%n", s.nonFinite());
        }
    }
}
