// The health page (templates/health.html) refreshes its section every 5 s: the script fetches
// GET /health/section and swaps in the figures; the one-line summary is a polite live region,
// replaced only when its words change, so a screen reader hears a change once, not every 5 s.
// An open 技术信息 stays open. Without this script the page is as served; 刷新 reloads it.
"use strict";

(function () {
  var PERIOD_MS = 5000;

  function swap(section, fresh) {
    var live = section.querySelector(".health-live");
    var freshLive = fresh.querySelector(".health-live");
    if (live && freshLive && live.textContent.trim() !== freshLive.textContent.trim()) {
      live.replaceWith(freshLive);
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

  function refresh(section) {
    window.setTimeout(function () {
      fetch(section.dataset.refresh, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
        cache: "no-store",
      })
        .then(function (response) {
          // Signed out (the sign-in page answers instead): stop; the next reload signs in.
          if (response.redirected || response.status === 401 || response.status === 403) {
            return "stop";
          }
          return response.ok ? response.text() : null;
        })
        .then(function (html) {
          if (html === "stop") {
            return;
          }
          if (html) {
            var doc = new DOMParser().parseFromString(html, "text/html");
            var fresh = doc.getElementById("health");
            if (fresh) {
              swap(section, fresh);
            }
          }
          refresh(section);
        })
        .catch(function () {
          // The node did not answer (restarting?): try again at the next period.
          refresh(section);
        });
    }, PERIOD_MS);
  }

  function start() {
    var section = document.getElementById("health");
    if (section && section.dataset.refresh) {
      refresh(section);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
