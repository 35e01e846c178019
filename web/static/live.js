// Live results: the page's counts, state, turnout and chart follow the server-sent
// events of /api/elections/{id}/live, without a reload. Without this script (or
// EventSource) the page still shows the result as it was when it was served.
"use strict";
(function () {
  const main = document.querySelector("main[data-live]");
  if (!main || !window.EventSource) return;
  const status = document.getElementById("live-status");
  const setText = (id, value) => {
    const element = document.getElementById(id);
    if (element) element.textContent = String(value);
  };
  const source = new EventSource(main.dataset.live);
  source.addEventListener("results", (event) => {
    const snapshot = JSON.parse(event.data);
    if (snapshot.error) {
      status.textContent = "(" + snapshot.error + ")";
      return;
    }
    const result = snapshot.result;
    // An undeclared election's choices are those with votes so far: a new one means new
    // rows, which only the server draws.
    const cells = document.querySelectorAll("td[data-choice]");
    if (cells.length !== result.choices.length) {
      source.close();
      window.location.reload();
      return;
    }
    result.choices.forEach((choice, n) => {
      const cell = document.querySelector('[data-choice="' + n + '"]');
      // null: withheld until the seal (LIVE_RESULTS=total).
      if (cell) cell.textContent = choice.votes === null ? "—" : String(choice.votes);
    });
    setText("total", result.total);
    setText("state", result.state);
    setText("seal", result.sealed ? "sealed" : "not sealed");
    setText("turnout", snapshot.turnout);
    const withheld = document.getElementById("withheld");
    if (withheld && !result.withheld) withheld.remove();
    const chart = document.getElementById("per-minute");
    if (chart && chart.outerHTML !== snapshot.chart) chart.outerHTML = snapshot.chart;
    main.dataset.updated = String(Date.now());
    status.textContent = result.sealed ? "" : "(live)";
  });
  source.onerror = () => {
    status.textContent = "(reconnecting…)";
  };
})();
