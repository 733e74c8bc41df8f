// The review page: talks only to /api/ on this server, with the token from sessionStorage in an
// Authorization header. Everything shown is set through textContent, never parsed as HTML.
"use strict";
(function () {
  const C = window.MeritCharts;
  const KEY = "merit.token";
  const state = { session: null, branch: "", filters: { status: "", contributor: "" }, selected: new Set(),
    events: null, poll: null, fresh: new Set(), strategies: [] };

  const $ = id => document.getElementById(id);

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const k of kids.flat(Infinity)) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
    return e;
  }

  function token() { return sessionStorage.getItem(KEY); }
  function maintainer() { return state.session && state.session.role === "maintainer"; }

  function say(msg, error) {
    const s = $("status");
    s.textContent = msg || "";
    s.className = "status" + (error ? " error" : "");
  }

  async function api(method, path, body) {
    const headers = { "Authorization": "Bearer " + token(), "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer" });
    const text = await r.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
    if (!r.ok) {
      const err = new Error(`${r.status}: ${json && json.error ? json.error : r.statusText}`);
      err.status = r.status;
      if (r.status === 401) signOut(err.message);
      throw err;
    }
    return json;
  }

  // ------------------------------------------------------------------ sign-in

  async function signIn(t) {
    sessionStorage.setItem(KEY, t);
    try {
      state.session = await api("GET", "/api/session");
    } catch (e) {
      sessionStorage.removeItem(KEY);
      $("signin-error").textContent = e.status === 401 ? "That token is not known to this coordinator." : e.message;
      showSignIn();
      return;
    }
    $("signin-error").textContent = "";
    $("token").value = "";
    $("signin").hidden = true;
    $("nav").hidden = false;
    $("who").hidden = false;
    $("who-name").textContent = `${state.session.name} (${state.session.role})`;
    const branches = await api("GET", "/api/branches");
    state.strategies = await api("GET", "/api/strategies");
    const sel = $("branch");
    sel.replaceChildren(...branches.map(b => el("option", { value: b, text: b })));
    state.branch = branches.includes("main") ? "main" : (branches[0] || "");
    sel.value = state.branch;
    startEvents();
    if (!location.hash || location.hash === "#") location.hash = "#/proposals"; else route();
  }

  function showSignIn() {
    $("signin").hidden = false;
    $("view").hidden = true;
    $("nav").hidden = true;
    $("who").hidden = true;
    $("token").focus();
  }

  function signOut(reason) {
    sessionStorage.removeItem(KEY);
    state.session = null;
    stopEvents();
    say(reason || "Signed out.", !!reason);
    showSignIn();
  }

  // ------------------------------------------------------------------ events (fetch stream: headers, no URL token)

  function stopEvents() {
    if (state.events) state.events.abort();
    state.events = null;
    if (state.poll) clearInterval(state.poll);
    state.poll = null;
  }

  async function startEvents() {
    stopEvents();
    const ctl = new AbortController();
    state.events = ctl;
    try {
      const r = await fetch("/api/events", { headers: { "Authorization": "Bearer " + token(), "Accept": "text/event-stream" },
        signal: ctl.signal, credentials: "omit", cache: "no-store" });
      if (r.status === 503) {
        state.poll = setInterval(() => refresh(null), 5000);
        return;
      }
      if (!r.ok || !r.body) throw new Error("event stream: " + r.status);
      document.body.dataset.events = "open";
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let kind = "message", data = "";
          for (const line of frame.split("\n")) {
            if (line.startsWith("event: ")) kind = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (data) onEvent(kind, JSON.parse(data));
        }
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
    }
    document.body.dataset.events = "closed";
    if (state.events === ctl && token()) setTimeout(() => { if (state.events === ctl) startEvents(); }, 2000);
  }

  function onEvent(kind, data) {
    if (kind === "proposal") {
      state.fresh.add(data.proposal_id);
      say(`Proposal ${data.proposal_id} from ${data.contributor}: ${data.status}`);
      refresh(data.proposal_id);
    } else if (kind === "version") {
      say(`New version ${String(data.commit || "").slice(0, 12)} on ${data.branch}`);
      refresh(null);
    }
  }

  function refresh(id) {
    const r = parse();
    if (r.view === "list") renderList();
    else if (r.view === "history") renderHistory();
    else if (r.view === "detail" && (!id || id === r.id)) renderDetail(r.id, true);
  }

  // ------------------------------------------------------------------ routing

  function parse() {
    const h = location.hash.replace(/^#\/?/, "");
    const parts = h.split("/").map(decodeURIComponent);
    if (parts[0] === "proposals" && parts[1]) return { view: "detail", id: parts[1] };
    if (parts[0] === "history") return { view: "history" };
    return { view: "list" };
  }

  function route() {
    if (!state.session) return;
    const r = parse();
    $("nav-proposals").toggleAttribute("aria-current", false);
    $("nav-history").toggleAttribute("aria-current", false);
    (r.view === "history" ? $("nav-history") : $("nav-proposals")).setAttribute("aria-current", "page");
    $("view").hidden = false;
    if (r.view === "list") renderList();
    else if (r.view === "detail") renderDetail(r.id);
    else renderHistory();
  }

  function view(...kids) {
    const v = $("view");
    v.replaceChildren(...kids);
  }

  // ------------------------------------------------------------------ formatting

  const bytes = n => n >= 1 << 20 ? (n / (1 << 20)).toFixed(2) + " MiB" : n >= 1024 ? (n / 1024).toFixed(1) + " KiB" : n + " B";
  const pct = x => x === null || x === undefined ? "n/a" : x === 0 ? "0%" : (100 * x).toFixed(x < 0.01 ? 3 : 1) + "%";
  const short = s => String(s || "").slice(0, 12);
  const time = s => new Date(s).toLocaleString();
  const STATUS = { accepted: "\u25CB waiting", merged: "\u2713 merged", rejected: "\u2717 rejected" };

  function badge(status) {
    return el("span", { class: "badge " + status, "data-status": status }, STATUS[status] || status);
  }

  function gate(p) {
    if (!p.gate) return "\u2014";
    return `${C.fmt(p.gate.before)} \u2192 ${C.fmt(p.gate.after)}`;
  }

  function checksSummary(p) {
    const ok = p.checks.filter(c => c.passed).length;
    const failed = p.checks.length - ok;
    return el("span", { class: failed ? "fail" : "pass", title: p.checks.map(c => `${c.passed ? "passed" : "FAILED"} ${c.name}: ${c.detail}`).join("\n") },
      failed ? `\u2717 ${failed} failed of ${p.checks.length}` : `\u2713 ${ok} passed`);
  }

  // ------------------------------------------------------------------ list

  async function renderList() {
    const q = new URLSearchParams();
    if (state.branch) q.set("branch", state.branch);
    if (state.filters.status) q.set("status", state.filters.status);
    if (state.filters.contributor) q.set("contributor", state.filters.contributor);
    let list;
    try { list = await api("GET", "/api/proposals?" + q); } catch (e) { say(e.message, true); return; }
    if (parse().view !== "list") return;
    const accepted = new Set(list.filter(p => p.status === "accepted").map(p => p.id));
    for (const id of [...state.selected]) if (!accepted.has(id)) state.selected.delete(id);

    const status = el("select", { id: "filter-status", onchange: e => { state.filters.status = e.target.value; renderList(); } },
      ["", "pending", "merged", "rejected"].map(s => el("option", { value: s, text: s ? s : "any" })));
    status.value = state.filters.status;
    const contributor = el("input", { id: "filter-contributor", type: "text", value: state.filters.contributor, placeholder: "any" });
    contributor.addEventListener("change", e => { state.filters.contributor = e.target.value.trim(); renderList(); });

    const rows = list.map(p => {
      const tr = el("tr", { "data-id": p.id, class: state.fresh.has(p.id) ? "fresh" : null });
      const pick = maintainer() && p.status === "accepted"
        ? el("input", { type: "checkbox", class: "pick", "aria-label": "select " + p.id + " for merging", checked: state.selected.has(p.id),
          onchange: e => { e.target.checked ? state.selected.add(p.id) : state.selected.delete(p.id); updateMergeBar(); } })
        : "";
      tr.append(
        el("td", {}, pick),
        el("td", {}, el("a", { href: "#/proposals/" + encodeURIComponent(p.id), class: "open" }, p.id)),
        el("td", {}, p.contributor),
        el("td", {}, badge(p.status)),
        el("td", { class: "mono", title: p.base_version }, short(p.base_version)),
        el("td", { class: "num" }, String(p.staleness)),
        el("td", { class: "num" }, pct(p.density)),
        el("td", { class: "num" }, String(p.entries)),
        el("td", { class: "num" }, `${bytes(p.encoded_bytes)} / ${bytes(p.dense_f32_bytes)}`),
        el("td", {}, checksSummary(p)),
        el("td", { class: "num" }, gate(p)),
        el("td", {}, time(p.created)));
      return tr;
    });
    state.fresh.clear();
    const table = el("table", { id: "proposals" },
      el("caption", { class: "hint" }, `${list.length} proposal(s) on ${state.branch || "all branches"}`),
      el("thead", {}, el("tr", {}, ["", "Id", "Contributor", "Status", "Base", "Behind", "Density", "Entries",
        "Encoded / dense f32", "Checks", "Gate before \u2192 after", "Time"].map((h, i) => el("th", { scope: "col", class: i >= 5 && i <= 8 ? "num" : null }, h)))),
      el("tbody", {}, rows));
    view(
      el("section", { class: "card" },
        el("h2", {}, "Proposals"),
        el("div", { class: "filters" },
          el("label", {}, "Status", status),
          el("label", {}, "Contributor", contributor)),
        list.length ? table : el("p", { id: "empty" }, state.session.role === "maintainer" ? "No proposals match." :
          "No proposals match. Only maintainers see other contributors' proposals.")),
      maintainer() ? mergePanel() : el("p", { class: "hint", id: "read-only" }, `Signed in as ${state.session.role}: approving, rejecting and merging need a maintainer token.`));
    updateMergeBar();
  }

  function strategySelect(id) {
    const s = el("select", { id }, state.strategies.map(x => el("option", { value: x, text: x })));
    s.value = state.strategies.includes("average") ? "average" : state.strategies[0];
    return s;
  }

  function mergePanel() {
    const strategy = strategySelect("merge-strategy");
    const step = el("input", { id: "merge-step", type: "text", class: "short", value: "", placeholder: "1.0", inputmode: "decimal" });
    const out = el("div", { id: "preview" });
    const params = () => {
      const p = {};
      if (step.value.trim()) p.step_size = Number(step.value.trim());
      return p;
    };
    const body = preview => ({ branch: state.branch, proposals: [...state.selected], strategy: strategy.value, parameters: params(), preview });
    const previewBtn = el("button", { id: "preview-button", type: "button", onclick: async () => {
      out.replaceChildren(el("p", { class: "hint" }, "Computing the merge\u2026"));
      try { out.replaceChildren(previewView(await api("POST", "/api/merges", body(true)))); } catch (e) { out.replaceChildren(el("p", { class: "error", role: "alert" }, e.message)); }
    } }, "Preview merge");
    const mergeBtn = el("button", { id: "merge-button", type: "button", class: "primary", onclick: async () => {
      try {
        const r = await api("POST", "/api/merges", body(false));
        state.selected.clear();
        say(`Merged ${r.proposals.join(", ")} into ${short(r.commit)}`);
        renderList();
      } catch (e) { out.replaceChildren(el("p", { class: "error", role: "alert" }, e.message)); }
    } }, "Merge selected");
    return el("section", { class: "card", id: "merge-panel" },
      el("h2", {}, "Merge selected proposals"),
      el("div", { class: "actions" },
        el("span", { id: "selected-count", "aria-live": "polite" }),
        el("label", {}, "Strategy", strategy),
        el("label", {}, "Step size", step),
        previewBtn, mergeBtn),
      out);
  }

  function updateMergeBar() {
    const n = state.selected.size;
    const c = $("selected-count");
    if (!c) return;
    c.textContent = n ? `${n} selected: ${[...state.selected].join(", ")}` : "Select accepted proposals in the table.";
    $("preview-button").disabled = n === 0;
    $("merge-button").disabled = n === 0;
  }

  function previewView(p) {
    const s = p.statistics;
    const kids = [el("h3", {}, `Preview: ${p.strategy} on ${short(p.head)} (nothing committed)`),
      el("dl", { class: "facts", id: "preview-facts" },
        el("dt", {}, "Tensors merged"), el("dd", {}, String(p.tensors)),
        el("dt", {}, "Entries merged"), el("dd", {}, String(p.entries)),
        el("dt", {}, "Changed bytes"), el("dd", {}, bytes(p.bytes)),
        el("dt", {}, "Gate score"), el("dd", { id: "preview-gate" }, p.gate_score === undefined ? "no evaluator on this coordinator"
          : `${C.fmt(p.head_score)} (head) \u2192 ${C.fmt(p.gate_score)} (merged)`),
        el("dt", {}, "Took"), el("dd", {}, (p.seconds * 1000).toFixed(1) + " ms"))];
    if (s) {
      const rows = [];
      for (const t of [s.overall, ...s.tensors]) {
        for (const pr of t.pairs) {
          rows.push(el("tr", {}, el("td", {}, t.tensor === "*" ? "all tensors" : t.tensor), el("td", {}, `${s.inputs[pr.a]} \u00D7 ${s.inputs[pr.b]}`),
            el("td", { class: "num" }, String(pr.overlap)), el("td", { class: "num" }, pct(pr.sign_agreement)), el("td", { class: "num" }, C.fmt(pr.cosine))));
        }
      }
      kids.push(el("div", { class: "grid2" },
        el("div", {}, C.bars("Change norm (L2) per input, all tensors", s.inputs.map((x, i) => ({ label: x, value: s.overall.norms[i] })))),
        el("div", {}, C.bars("Support (entries changed) per input", s.inputs.map((x, i) => ({ label: x, value: s.overall.support[i] })), { cls: "alt" }))));
      if (rows.length) {
        kids.push(el("table", { id: "preview-pairs" }, el("thead", {}, el("tr", {}, ["Tensor", "Pair", "Overlap", "Sign agreement", "Cosine"].map(h => el("th", { scope: "col" }, h)))), el("tbody", {}, rows)));
      }
    }
    return el("div", {}, kids);
  }

  // ------------------------------------------------------------------ detail

  async function renderDetail(id, quiet) {
    let p;
    try { p = await api("GET", "/api/proposals/" + encodeURIComponent(id)); } catch (e) {
      view(el("section", { class: "card" }, el("h2", {}, "Proposal " + id), el("p", { class: "error", role: "alert" }, e.message), el("a", { href: "#/proposals" }, "Back to the list")));
      return;
    }
    const r = parse();
    if (r.view !== "detail" || r.id !== id) return;
    const ts = p.tensors;
    const facts = el("dl", { class: "facts", id: "facts" },
      el("dt", {}, "Status"), el("dd", {}, badge(p.status)),
      el("dt", {}, "Branch"), el("dd", {}, p.branch),
      el("dt", {}, "Contributor"), el("dd", {}, p.contributor),
      el("dt", {}, "Base version"), el("dd", { class: "mono" }, `${p.base_version} (${p.staleness} behind the head)`),
      el("dt", {}, "Density"), el("dd", {}, `${pct(p.density)} (${p.entries} entries)`),
      el("dt", {}, "Change norm (L2)"), el("dd", {}, C.fmt(p.norm)),
      el("dt", {}, "Encoded / dense f32"), el("dd", {}, `${bytes(p.encoded_bytes)} / ${bytes(p.dense_f32_bytes)}`),
      el("dt", {}, "Examples, weight"), el("dd", {}, `${p.example_count}, ${C.fmt(p.weight)}${p.has_fisher ? ", with Fisher" : ""}`),
      el("dt", {}, "Gate score"), el("dd", {}, gate(p)),
      el("dt", {}, "Signature"), el("dd", { class: p.provenance.signature === "verified" ? "pass" : "fail" }, `${p.provenance.signature === "verified" ? "\u2713" : "\u2717"} ${p.provenance.signature}: ${p.provenance.signature_detail}`),
      el("dt", {}, "Digest"), el("dd", { class: "mono" }, p.digest),
      el("dt", {}, "Message"), el("dd", {}, p.message || "\u2014"),
      el("dt", {}, "Pushed"), el("dd", {}, time(p.created)),
      p.merged_in ? [el("dt", {}, "Merged in"), el("dd", { class: "mono" }, p.merged_in)] : null,
      p.review ? [el("dt", {}, "Review"), el("dd", { id: "review-text" }, p.review)] : null,
      p.reasons.length ? [el("dt", {}, "Reasons"), el("dd", { class: "fail" }, p.reasons.join("; "))] : null);
    const checks = el("table", { id: "checks" }, el("thead", {}, el("tr", {}, ["Check", "Result", "Detail"].map(h => el("th", { scope: "col" }, h)))),
      el("tbody", {}, p.checks.map(c => el("tr", {}, el("td", {}, c.name), el("td", { class: c.passed ? "pass" : "fail" }, c.passed ? "\u2713 passed" : "\u2717 failed"), el("td", {}, c.detail)))));
    const charts = ts.length ? el("div", { class: "grid3", id: "tensor-charts" },
      el("div", {}, C.bars("Change norm (L2) per tensor", ts.map(t => ({ label: t.tensor, value: t.norm })))),
      el("div", {}, C.bars("Relative change (L2 / L2 of base)", ts.map(t => ({ label: t.tensor, value: t.relative_change })), { cls: "alt" })),
      el("div", {}, C.bars("Density per tensor", ts.map(t => ({ label: t.tensor, value: t.density })), { cls: "alt2" })))
      : el("p", { class: "hint" }, "No stored change (rejected proposals keep no payload).");
    const tensorTable = el("table", { id: "tensors" }, el("thead", {}, el("tr", {}, ["Tensor", "Entries", "Density", "L2", "Relative", "Max |change|"].map((h, i) => el("th", { scope: "col", class: i ? "num" : null }, h)))),
      el("tbody", {}, ts.map(t => el("tr", {}, el("td", {}, t.tensor), el("td", { class: "num" }, `${t.entries} / ${t.numel}`), el("td", { class: "num" }, pct(t.density)),
        el("td", { class: "num" }, C.fmt(t.norm)), el("td", { class: "num" }, C.fmt(t.relative_change)), el("td", { class: "num" }, C.fmt(t.max_abs))))));
    const conflicts = p.conflicts.length ? el("table", { id: "conflicts" },
      el("thead", {}, el("tr", {}, ["Other proposal", "Contributor", "Overlap (entries)", "Sign agreement", "Cosine", "Shared tensors", "Verdict"].map(h => el("th", { scope: "col" }, h)))),
      el("tbody", {}, p.conflicts.map(c => el("tr", { "data-other": c.other },
        el("td", {}, el("a", { href: "#/proposals/" + encodeURIComponent(c.other) }, c.other)), el("td", {}, c.contributor),
        el("td", { class: "num" }, String(c.overlap)), el("td", { class: "num" }, pct(c.sign_agreement)), el("td", { class: "num" }, C.fmt(c.cosine)),
        el("td", {}, c.tensors.join(", ") || "\u2014"),
        el("td", { class: c.fights ? "fights verdict" : "agrees verdict" }, c.fights ? "\u26A0 conflicts" : c.overlap ? "\u2713 compatible" : "\u2713 disjoint")))))
      : el("p", { id: "no-conflicts", class: "hint" }, "No other waiting proposal on this branch.");

    let actions = null;
    if (maintainer() && p.status === "accepted") {
      const msg = el("input", { id: "approve-message", type: "text", placeholder: "optional" });
      const reason = el("input", { id: "reject-reason", type: "text", placeholder: "required" });
      const out = el("p", { id: "action-result", role: "alert" });
      actions = el("section", { class: "card", id: "actions" }, el("h2", {}, "Decide"),
        el("div", { class: "actions" },
          el("label", {}, "Approval message", msg),
          el("button", { id: "approve", type: "button", class: "primary", onclick: () => decide("approve", { message: msg.value }, out) }, "Approve and merge"),
          el("label", {}, "Rejection reason", reason),
          el("button", { id: "reject", type: "button", class: "danger", onclick: () => {
            if (!reason.value.trim()) { out.className = "error"; out.textContent = "Give a reason to reject."; reason.focus(); return; }
            decide("reject", { reason: reason.value }, out);
          } }, "Reject")),
        out);
    }
    async function decide(action, body, out) {
      try {
        const r = await api("POST", `/api/proposals/${encodeURIComponent(p.id)}/${action}`, body);
        say(`${p.id} is now ${r.status}${r.merged_in ? " in " + short(r.merged_in) : ""}`);
        renderDetail(p.id);
      } catch (e) { out.className = "error"; out.textContent = e.message; }
    }
    view(
      el("p", {}, el("a", { href: "#/proposals" }, "\u2190 All proposals")),
      el("section", { class: "card" }, el("h2", { id: "detail-title", tabindex: "-1" }, `Proposal ${p.id} by ${p.contributor}`),
        el("div", { class: "grid2" }, facts, el("div", {}, el("h3", {}, "Validation"), checks))),
      actions,
      el("section", { class: "card" }, el("h2", {}, "Per-tensor change"), charts, tensorTable),
      el("section", { class: "card" }, el("h2", {}, "Conflicts with other waiting proposals"),
        el("p", { class: "hint" }, "Overlap counts entries both change; sign agreement is measured on them. A cosine below -0.05 over the whole model is flagged: merging the two cancels them out."), conflicts));
    if (!quiet) { window.scrollTo(0, 0); $("detail-title").focus({ preventScroll: true }); }
  }

  // ------------------------------------------------------------------ history

  async function renderHistory() {
    if (!state.branch) { view(el("p", {}, "No branch yet.")); return; }
    let vs;
    try { vs = await api("GET", `/api/branches/${encodeURIComponent(state.branch)}/versions`); } catch (e) { say(e.message, true); return; }
    if (parse().view !== "history") return;
    const commits = vs.map(v => ({ id: v.id, parents: v.parents, merge: v.proposals.length > 0,
      label: `#${v.number} ${short(v.id)} ${v.message.length > 70 ? v.message.slice(0, 69) + "\u2026" : v.message}` }));
    const scored = vs.filter(v => typeof v.score === "number").reverse();
    const table = el("table", { id: "versions" }, el("thead", {}, el("tr", {}, ["#", "Commit", "Author", "Time", "Strategy", "Proposals", "Score"].map(h => el("th", { scope: "col" }, h)))),
      el("tbody", {}, vs.map(v => el("tr", {}, el("td", { class: "num" }, String(v.number)), el("td", { class: "mono", title: v.id }, short(v.id)), el("td", {}, v.author),
        el("td", {}, time(v.time)), el("td", {}, v.strategy || "\u2014"),
        el("td", {}, v.proposals.length ? v.proposals.map((id, i) => [i ? ", " : "", el("a", { href: "#/proposals/" + encodeURIComponent(id) }, id)]) : "\u2014"),
        el("td", { class: "num" }, typeof v.score === "number" ? C.fmt(v.score) : "\u2014")))));
    view(
      el("section", { class: "card" }, el("h2", {}, `History of ${state.branch}`),
        el("div", { class: "grid2" },
          el("div", { id: "commit-graph" }, C.graph(`Commit graph of ${state.branch}`, commits)),
          el("div", { id: "score-chart" }, scored.length
            ? C.line("Evaluation score per version", scored.map(v => ({ label: "#" + v.number, x: v.number, y: v.score })))
            : el("p", { class: "hint" }, "No evaluation scores recorded on this branch yet.")))),
      el("section", { class: "card" }, table));
  }

  // ------------------------------------------------------------------ start

  document.addEventListener("DOMContentLoaded", () => {
    $("signin-form").addEventListener("submit", e => {
      e.preventDefault();
      const t = $("token").value.trim();
      if (t) signIn(t);
    });
    $("sign-out").addEventListener("click", () => signOut());
    $("branch").addEventListener("change", e => { state.branch = e.target.value; state.selected.clear(); route(); });
    window.addEventListener("hashchange", route);
    if (token()) signIn(token()); else showSignIn();
  });
})();
