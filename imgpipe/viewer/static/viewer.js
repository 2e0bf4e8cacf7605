// imgpipe viewer: live statuses on the execution page, the details of a clicked state, and the
// start form's example inputs. Everything shown is set with textContent (never as HTML): inputs,
// outputs, object keys and error causes are user input.
"use strict";

(function () {
  const STATUSES = ["RUNNING", "SUCCEEDED", "FAILED", "CAUGHT", "ABORTED", "NOT_STARTED"];

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function pretty(value) {
    return typeof value === "string" ? value : JSON.stringify(value, null, 2);
  }

  // --- the start form: the chosen workflow's example input -------------------------------------
  function startForm() {
    const select = document.getElementById("start-workflow");
    const input = document.getElementById("start-input");
    const data = document.getElementById("examples");
    if (!select || !input || !data) return;
    const examples = JSON.parse(data.textContent || "{}");
    let shown = input.value;
    select.addEventListener("change", function () {
      const edited = input.value !== shown;
      if (!edited && examples[select.value] !== undefined) {
        input.value = examples[select.value];
        shown = input.value;
      }
    });
  }

  // --- the execution page -----------------------------------------------------------------------
  function setNodeStatus(group, entry) {
    const wanted = "status-" + (entry ? entry.status : "NOT_STARTED");
    STATUSES.forEach(function (status) {
      const name = "status-" + status;
      if (name !== wanted) group.classList.remove(name);
    });
    group.classList.add(wanted);
    const badge = group.querySelector("[data-badge]");
    if (badge && entry && entry.iterations) {
      const it = entry.iterations;
      badge.textContent = it.done + "/" + it.total + " done · " + it.running + " running · " + it.failed + " failed";
    }
  }

  function applyStatuses(document_) {
    document.querySelectorAll("svg.graph g.node[data-node]").forEach(function (group) {
      setNodeStatus(group, document_.nodes[group.dataset.node]);
    });
    const status = document.getElementById("execution-status");
    if (status) {
      status.textContent = document_.status;
      status.className = "status status-" + document_.status;
    }
  }

  function runBlock(run) {
    const block = element("section", "run status-" + run.status);
    const title = element("h3", null, run.state);
    if (run.iteration !== null && run.iteration !== undefined) {
      title.appendChild(element("span", "iteration", " · item " + run.iteration));
    }
    block.appendChild(title);
    const facts = element("dl", "facts");
    function fact(name, value) {
      if (value === null || value === undefined || value === "") return;
      facts.appendChild(element("dt", null, name));
      facts.appendChild(element("dd", "fact-" + name, value));
    }
    fact("status", run.status);
    fact("attempts", run.attempts || null);
    fact("entered", run.entered);
    fact("exited", run.exited);
    fact("seconds", run.seconds);
    fact("error", run.error);
    fact("cause", run.cause);
    if (run.iterations) fact("iterations", JSON.stringify(run.iterations));
    block.appendChild(facts);
    if (run.childExecution) {
      const link = element("a", "child-execution", "child execution: " + run.childExecution.split(":").pop());
      link.href = "/execution/" + encodeURIComponent(run.childExecution);
      block.appendChild(link);
    }
    [["input", run.input], ["output", run.output]].forEach(function (pair) {
      if (pair[1] === null || pair[1] === undefined) return;
      const details = element("details", "payload payload-" + pair[0]);
      details.open = pair[0] === "output" || run.status === "FAILED";
      details.appendChild(element("summary", null, pair[0]));
      details.appendChild(element("pre", null, pretty(pair[1])));
      block.appendChild(details);
    });
    return block;
  }

  function showDetails(statusUrl, nodeId) {
    const panel = document.getElementById("details");
    document.querySelectorAll("svg.graph g.node.selected").forEach(function (g) { g.classList.remove("selected"); });
    const group = document.querySelector('svg.graph g.node[data-node="' + CSS.escape(nodeId) + '"]');
    if (group) group.classList.add("selected");
    fetch(statusUrl + "/node/" + encodeURIComponent(nodeId), { headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (node) {
        panel.replaceChildren();
        panel.dataset.node = nodeId;
        panel.appendChild(element("h2", "node-title", node.label));
        panel.appendChild(element("p", "muted", node.kind + " · " + node.states.length + " state(s) · " + node.runs.length + " run(s)"));
        if (!node.runs.length) panel.appendChild(element("p", "muted", "not run"));
        const failed = node.runs.filter(function (run) { return run.status === "FAILED"; });
        const shown = failed.length ? failed.concat(node.runs.filter(function (run) { return run.status !== "FAILED"; })) : node.runs;
        shown.forEach(function (run) { panel.appendChild(runBlock(run)); });
        panel.classList.add("loaded");
      });
  }

  function executionPage() {
    const body = document.body;
    if (body.dataset.page !== "execution") return;
    const statusUrl = body.dataset.statusUrl;
    const initial = body.dataset.status;
    const pollMs = parseInt(body.dataset.pollMs || "1000", 10);

    document.querySelectorAll("svg.graph g.node[data-node]").forEach(function (group) {
      function open(event) { event.stopPropagation(); showDetails(statusUrl, group.dataset.node); }
      group.addEventListener("click", open);
      group.addEventListener("keydown", function (event) { if (event.key === "Enter" || event.key === " ") open(event); });
    });
    document.querySelectorAll("[data-select-node]").forEach(function (link) {
      link.addEventListener("click", function () { if (link.dataset.selectNode) showDetails(statusUrl, link.dataset.selectNode); });
    });
    if (body.dataset.failingNode) {
      const failing = document.querySelector('svg.graph g.node[data-node="' + CSS.escape(body.dataset.failingNode) + '"]');
      if (failing) failing.scrollIntoView({ block: "center", inline: "center" });
      showDetails(statusUrl, body.dataset.failingNode);
    }

    if (initial !== "RUNNING" && initial !== "PENDING_REDRIVE") return;
    function poll() {
      fetch(statusUrl, { headers: { Accept: "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (document_) {
          applyStatuses(document_);
          const open = document.getElementById("details").dataset.node;
          if (open) showDetails(statusUrl, open);
          if (document_.ended) {
            window.location.reload(); // the output, the failure and the renditions are rendered by the server
          } else {
            window.setTimeout(poll, pollMs);
          }
        })
        .catch(function () { window.setTimeout(poll, pollMs * 3); });
    }
    window.setTimeout(poll, pollMs);
  }

  document.addEventListener("DOMContentLoaded", function () {
    startForm();
    executionPage();
  });
})();
