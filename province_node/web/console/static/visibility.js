// The national visibility section (templates/_visibility.html) refreshes itself every 2.5 s
// until it says applied (console.js's refreshEvery fetches GET /registrations/{cert_no}/visibility).
// The headline is a polite live region: the section is swapped (around that region, which stays
// the same element: console.js swapAround) only when what it says changed, so a screen reader
// hears a change once and an open 技术信息 stays open meanwhile; otherwise only the evidence
// (times, seqs) is. Without this script the section is as the
// page was served; its 刷新 link reloads it.
"use strict";

(function () {
  function said(section) {
    var live = section.querySelector(".visibility-live");
    return section.dataset.outcome + "|" + (live ? live.textContent.trim() : "");
  }

  function swap(section, fresh) {
    if (said(fresh) !== said(section)) {
      showAuto(window.regsyncConsole.swapAround(section, fresh, ".visibility-live"));
      return;
    }
    var evidence = section.querySelector(".visibility-evidence");
    var freshEvidence = fresh.querySelector(".visibility-evidence");
    if (evidence && freshEvidence) {
      evidence.replaceWith(freshEvidence);
    }
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
      window.regsyncConsole.refreshEvery(section, 2500, swap);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
