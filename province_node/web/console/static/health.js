// The health page (templates/health.html) refreshes its section every 5 s (console.js's
// refreshEvery fetches GET /health/section) and swaps in the figures; the one-line summary is a
// polite live region whose words are replaced (the region stays the same element, which screen
// readers need to announce it) only when they change, so a screen reader hears a change
// once, not every 5 s. An open 技术信息 stays open. Without this script the page is as served;
// 刷新 reloads it.
"use strict";

(function () {
  function swap(section, fresh) {
    var live = section.querySelector(".health-live");
    var freshLive = fresh.querySelector(".health-live");
    if (live && freshLive && live.textContent.trim() !== freshLive.textContent.trim()) {
      live.replaceChildren.apply(live, Array.prototype.slice.call(freshLive.childNodes));
    }
    var body = section.querySelector(".health-body");
    var freshBody = fresh.querySelector(".health-body");
    if (body && freshBody) {
      var open = body.querySelector("details[open]");
      var details = freshBody.querySelector("details");
      if (open && details) {
        details.open = true;
      }
      body.replaceWith(freshBody);
    }
  }

  function start() {
    var section = document.getElementById("health");
    if (section) {
      window.regsyncConsole.refreshEvery(section, 5000, swap);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
