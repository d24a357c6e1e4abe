// The kiosk page's behaviour: keypad keys, forms sent without a reload, live updates over SSE.
// Plain script, no build step; without it every form still works (the server redirects back).
"use strict";

(function () {
  const body = document.body;
  const feedback = document.getElementById("feedback");
  const live = document.getElementById("live");
  const announcer = document.getElementById("announcer");
  const code = document.getElementById("keypad-code");
  const keypad = document.getElementById("keypad");

  function say(text, failed) {
    feedback.textContent = text;
    feedback.classList.toggle("feedback--error", Boolean(failed));
  }

  // ----- keypad: on-screen keys and the keyboard -----
  document.querySelectorAll("[data-digit]").forEach(function (key) {
    key.addEventListener("click", function () {
      if (code.value.length < 12) code.value += key.dataset.digit;
    });
  });
  document.querySelector("[data-clear]").addEventListener("click", function () {
    code.value = "";
    code.focus();
  });
  document.addEventListener("keydown", function (event) {
    // Typing anywhere that is not a field goes to the keypad, as on the real front panel.
    const target = event.target;
    if (target.closest("input, textarea, select, button, a, summary")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (/^[0-9]$/.test(event.key)) {
      if (code.value.length < 12) code.value += event.key;
      event.preventDefault();
    } else if (event.key === "Backspace") {
      code.value = code.value.slice(0, -1);
      event.preventDefault();
    } else if (event.key === "Escape") {
      code.value = "";
    } else if (event.key === "Enter" && code.value) {
      keypad.requestSubmit();
      event.preventDefault();
    }
  });
  code.addEventListener("keydown", function (event) {
    if (event.key === "Escape") code.value = "";
  });

  // ----- every form is sent with fetch; the answer is shown, the page is not reloaded -----
  document.addEventListener("submit", async function (event) {
    const form = event.target;
    if (!form.matches("[data-action]")) return;
    event.preventDefault();
    const data = new URLSearchParams(new FormData(form, event.submitter));
    const buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.setAttribute("aria-busy", "true"); });
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: data,
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      let message = response.statusText;
      try { message = (await response.json()).message || message; } catch (e) { /* not JSON */ }
      if (!message && !response.ok) message = "Failed (" + response.status + ")";
      say(message, !response.ok);
      if (response.ok && form === keypad) keypad.reset();  // the code and a return's label
      if (response.ok && (form.id === "scanner" || form.id === "label-scanner")) form.reset();
    } catch (error) {
      say("The emulator did not answer: " + error, true);
    } finally {
      buttons.forEach(function (b) { b.removeAttribute("aria-busy"); });
    }
  });

  // ----- live updates: the server sends the changed parts of the page -----
  function doorStates(root) {
    const states = {};
    root.querySelectorAll("[data-door]").forEach(function (li) { states[li.dataset.code] = li.dataset.door; });
    return states;
  }

  function swap(name, html) {
    const region = document.querySelector('[data-region="' + name + '"]');
    if (!region || region.dataset.html === html) return;
    // Keep the keyboard user where they were and open menus open across the swap.
    const focused = region.contains(document.activeElement) ? document.activeElement.id : null;
    const open = Array.from(region.querySelectorAll("details[open]")).map(function (d) { return d.id; });
    const before = doorStates(region);
    region.innerHTML = html;
    region.dataset.html = html;
    open.forEach(function (id) { const d = document.getElementById(id); if (d) d.open = true; });
    if (focused) {
      const again = document.getElementById(focused);
      if (again) again.focus();
    }
    if (name === "doors") {
      const after = doorStates(region);
      const changes = Object.keys(after).filter(function (c) { return before[c] && before[c] !== after[c]; });
      if (changes.length) {
        announcer.textContent = changes.map(function (c) { return "Door " + c + " " + after[c]; }).join(". ");
      }
    }
  }

  function connect() {
    const source = new EventSource(body.dataset.events);
    source.addEventListener("open", function () {
      live.textContent = "Live";
      live.dataset.live = "live";
    });
    source.addEventListener("locker", function (event) {
      const regions = JSON.parse(event.data).regions;
      Object.keys(regions).forEach(function (name) { swap(name, regions[name]); });
      live.textContent = "Live";
      live.dataset.live = "live";
    });
    source.addEventListener("error", function () {
      // EventSource reconnects by itself; say so meanwhile.
      live.textContent = "Reconnecting to the emulator…";
      live.dataset.live = "reconnecting";
    });
  }
  connect();
})();
