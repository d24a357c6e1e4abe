// OpenLocker console: the live grid (EventSource), the compartment picker, printing.
// Plain script, no library; every page works without it except the live updates.
(function () {
  "use strict";

  function toLogin() {
    window.location.assign("/console/login?ended=1&next=" + encodeURIComponent(window.location.pathname));
  }

  function setLive(state, words) {
    var live = document.getElementById("live");
    if (!live) return;
    live.setAttribute("data-live", state);
    live.textContent = words;
  }

  function states(grid) {
    var found = {};
    grid.querySelectorAll(".cell").forEach(function (cell) {
      found[cell.id.slice(5)] = cell.getAttribute("data-state") + ", door " + cell.getAttribute("data-door");
    });
    return found;
  }

  // Replace the grid, keeping the keyboard focus on the same compartment's button, and say
  // what changed in the live region (screen readers announce it; the grid itself is silent).
  function showGrid(grid, html) {
    var focused = document.activeElement && grid.contains(document.activeElement) ? document.activeElement.id : null;
    var before = states(grid);
    grid.innerHTML = html;
    if (focused) {
      var again = document.getElementById(focused);
      if (again) again.focus();
    }
    var after = states(grid), changed = [];
    Object.keys(after).forEach(function (code) {
      if (before[code] !== undefined && before[code] !== after[code]) changed.push(code + ": " + after[code].replace(/_/g, " "));
    });
    if (changed.length) setLive("live", "Live. Changed: " + changed.join("; ") + ".");
    return changed.length;
  }

  // The grid alone, fetched when the stream (re)connects: nothing missed while it was down.
  function refresh(grid) {
    return fetch(grid.getAttribute("data-src"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (answer) {
        if (answer.redirected && answer.url.indexOf("/console/login") !== -1) { toLogin(); return; }
        if (!answer.ok) return;
        return answer.text().then(function (html) { showGrid(grid, html); });
      });
  }

  function startLive(grid) {
    if (!window.EventSource) { setLive("off", "Live updates need a newer browser; reload to refresh."); return; }
    var source = new EventSource(grid.getAttribute("data-events"));
    source.addEventListener("open", function () { setLive("live", "Live: the grid updates by itself."); });
    source.addEventListener("grid", function (event) {
      if (!showGrid(grid, JSON.parse(event.data).html)) setLive("live", "Live: the grid updates by itself.");
    });
    source.addEventListener("signed-out", function () { source.close(); toLogin(); });
    source.addEventListener("error", function () {
      setLive("reconnecting", "Live updates interrupted; reconnecting…");
      // The stream answers a signed-out browser with a redirect, which EventSource cannot
      // follow: ask for the grid to find out whether the session has ended.
      refresh(grid).catch(function () {});
    });
  }

  // "Choose A1" in the grid fills the action form and moves the focus there.
  function pick(event) {
    var button = event.target.closest("button.pick");
    if (!button) return;
    var select = document.getElementById("action-code");
    if (!select) return;
    select.value = button.getAttribute("data-code");
    select.focus();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("js");
    var grid = document.getElementById("grid");
    if (grid) {
      grid.addEventListener("click", pick);
      startLive(grid);
    }
    var print = document.getElementById("print");
    if (print) print.addEventListener("click", function () { window.print(); });
  });
})();
