// The console's shared behaviour (every page loads it; pages work without it).
// - A form submits once: its submit buttons are disabled after the first submit and say so.
//   The server commits a repeated submit once anyway (each action form carries an
//   Idempotency-Key, province_node.idempotency); this only spares the second request.
// - After a refused submit, focus moves to the first field with an error message.
"use strict";

(function () {
  function submitOnce(event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") {
      return;
    }
    if (form.dataset.submitted === "true") {
      event.preventDefault();
      return;
    }
    form.dataset.submitted = "true";
    // Disabled after this turn of the event loop: a button disabled now would not be sent.
    window.setTimeout(function () {
      form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (b) {
        b.setAttribute("aria-disabled", "true");
        b.disabled = true;
        if (b.dataset.busyLabel) {
          b.textContent = b.dataset.busyLabel;
        }
      });
    }, 0);
  }

  function focusFirstError() {
    var invalid = document.querySelector("[aria-invalid=true]");
    if (invalid instanceof HTMLElement) {
      invalid.focus();
    }
  }

  document.addEventListener("submit", submitOnce, true);
  // A page restored from the back/forward cache gets its buttons back.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submitted]").forEach(function (f) {
      delete f.dataset.submitted;
      f.querySelectorAll("button[disabled]").forEach(function (b) {
        b.disabled = false;
        b.removeAttribute("aria-disabled");
      });
    });
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusFirstError);
  } else {
    focusFirstError();
  }
})();
