// The national visibility section (templates/_visibility.html) refreshes itself every few
// seconds until it says applied: the script fetches the section alone
// (GET /registrations/{cert_no}/visibility) and swaps it in only when what it says changed, so
// the polite live region announces a change once and an open 技术信息 stays open meanwhile.
// Without this script the section is as the page was served; its 刷新 link reloads it.
"use strict";

(function () {
  var PERIOD_MS = 2500;

  function summary(section) {
    // What a person reads: a refresh that changes only a time is no news.
    var live = section.querySelector(".visibility-live");
    return section.dataset.outcome + "|" + (live ? live.textContent.trim() : "");
  }

  function refresh(section) {
    if (section.dataset.settled === "true" || !section.dataset.refresh) {
      return;
    }
    window.setTimeout(function () {
      fetch(section.dataset.refresh, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
        cache: "no-store",
      })
        .then(function (response) {
          // Signed out (the sign-in page answers instead) or the record is gone: stop.
          if (!response.ok || response.redirected) {
            return null;
          }
          return response.text();
        })
        .then(function (html) {
          if (html === null) {
            return;
          }
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById("visibility");
          if (!fresh) {
            return;
          }
          if (summary(fresh) !== summary(section)) {
            section.replaceWith(fresh);
            section = fresh;
            showAuto(section);
          } else {
            // Same news: only the evidence (times, seqs) may have moved.
            var oldEv = section.querySelector(".visibility-evidence");
            var newEv = fresh.querySelector(".visibility-evidence");
            if (oldEv && newEv) {
              oldEv.replaceWith(newEv);
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

  function showAuto(section) {
    var note = section.querySelector(".visibility-auto");
    if (note) {
      note.hidden = false;
    }
  }

  function start() {
    var section = document.getElementById("visibility");
    if (section) {
      showAuto(section);
      refresh(section);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
