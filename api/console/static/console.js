// execlayer console: clickable rows, confirmations, and live refresh of #live (no framework).
(function () {
  "use strict";
  function wire(root) {
    root.querySelectorAll("tr[data-href]").forEach(function (row) {
      row.addEventListener("click", function (event) {
        if (event.target.closest("a, button, input, form, details")) return;
        window.location.href = row.getAttribute("data-href");
      });
    });
    root.querySelectorAll("button[data-confirm]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        if (!window.confirm(button.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
  }
  function busy() {
    var active = document.activeElement;
    return active && (active.tagName === "INPUT" || active.tagName === "TEXTAREA") && active.value;
  }
  function refresh(live) {
    var seconds = parseInt(live.getAttribute("data-refresh"), 10);
    if (!seconds) return;
    setInterval(function () {
      if (document.hidden || busy()) return;
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) return;
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
          if (fresh && !busy()) { live.innerHTML = fresh.innerHTML; wire(live); }
        })
        .catch(function () { /* offline for a moment: try again next tick */ });
    }, seconds * 1000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    wire(document);
    var live = document.getElementById("live");
    if (live) refresh(live);
  });
})();
