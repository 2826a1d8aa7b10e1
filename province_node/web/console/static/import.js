// An import job's page while it runs (templates/import_job.html): asks GET
// /import/{job}/progress every second and updates the bar and the counts in place; when the
// job has ended, the page is loaded again to show its outcome. Without this script the page
// reloads itself every 2 s (<noscript> meta refresh).
"use strict";

(function () {
  var panel = document.getElementById("import-job");
  if (!panel || panel.dataset.state !== "running") {
    return;
  }

  function set(id, text) {
    var el = document.getElementById(id);
    if (el) {
      el.textContent = text;
    }
  }

  function poll() {
    fetch(panel.dataset.progress, { credentials: "same-origin", cache: "no-store" })
      .then(function (resp) {
        if (!resp.ok) {
          throw new Error("progress answered " + resp.status);
        }
        return resp.json();
      })
      .then(function (p) {
        document.getElementById("job-progress").value = p.percent;
        document.getElementById("job-progress").textContent = p.percent + "%";
        set("job-percent", p.percent + "%（" + p.bytes_read + " / " + p.total_bytes + " 字节）");
        set("count-imported", String(p.imported));
        set("count-skipped", String(p.skipped));
        set("count-rejected", String(p.rejected));
        if (p.state !== "running") {
          window.location.reload();
          return;
        }
        window.setTimeout(poll, 1000);
      })
      .catch(function () {
        window.setTimeout(poll, 3000);
      });
  }

  window.setTimeout(poll, 500);
})();
