// The console's shared behaviour (every page loads it; pages work without it).
// - A form submits once: its submit buttons are disabled after the first submit and say so.
//   The server commits a repeated submit once anyway (each action form carries an
//   Idempotency-Key, province_node.idempotency); this only spares the second request.
// - After a refused submit, focus moves to the first field with an error message.
"use strict";

(function () {
  // A form's submit buttons back as they were (a refused check, a page from the bfcache).
  function releaseForm(form) {
    delete form.dataset.submitted;
    form.querySelectorAll("button[disabled]").forEach(function (b) {
      b.disabled = false;
      b.removeAttribute("aria-disabled");
      if (b.dataset.idleLabel) {
        b.textContent = b.dataset.idleLabel;
        delete b.dataset.idleLabel;
      }
    });
  }

  function submitOnce(event) {
    var form = event.target;
    // A page's own handler that stopped this submit (register.js checking the fields first)
    // has not sent anything: nothing to hold.
    if (event.defaultPrevented) {
      return;
    }
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
          b.dataset.idleLabel = b.textContent;
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

  // Bubbling, not capturing: the page's own submit handlers on the form run first.
  document.addEventListener("submit", submitOnce);
  // A page restored from the back/forward cache gets its buttons back.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submitted]").forEach(releaseForm);
  });
  window.regsyncConsole = window.regsyncConsole || {};
  window.regsyncConsole.releaseForm = releaseForm;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusFirstError);
  } else {
    focusFirstError();
  }
})();

// Live sections (the national visibility, the node's health): a page's script calls
// regsyncConsole.refreshEvery(section, ms, swap) and every ms the section's own address
// (data-refresh) is fetched and swap(section, fresh) receives the fresh copy, until the section
// says data-settled="true" or the session ends (the sign-in page answers instead).
window.regsyncConsole = window.regsyncConsole || {};
window.regsyncConsole.refreshEvery = function (section, periodMs, swap) {
  function tick() {
    var current = document.getElementById(section.id) || section;
    if (current.dataset.settled === "true" || !current.dataset.refresh) {
      return;
    }
    fetch(current.dataset.refresh, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
      cache: "no-store",
    })
      .then(function (response) {
        if (response.redirected || response.status === 401 || response.status === 403) {
          return "stop";
        }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === "stop") {
          return;
        }
        var doc = html ? new DOMParser().parseFromString(html, "text/html") : null;
        var fresh = doc && doc.getElementById(current.id);
        if (fresh) {
          swap(current, fresh);
        }
        window.setTimeout(tick, periodMs);
      })
      .catch(function () {
        // The node did not answer (restarting?): try again at the next period.
        window.setTimeout(tick, periodMs);
      });
  }
  window.setTimeout(tick, periodMs);
};

// A live section swapped for its fresh copy around its polite live region (liveSelector, a
// child of the section): the region stays the same element and only its words change, since
// screen readers announce changes inside a live region they know, not a newly inserted one.
// The section's attributes (data-outcome, data-settled) and other children come from fresh.
window.regsyncConsole.swapAround = function (section, fresh, liveSelector) {
  var live = section.querySelector(liveSelector);
  var freshLive = fresh.querySelector(liveSelector);
  if (!live || !freshLive || live.parentNode !== section || freshLive.parentNode !== fresh) {
    section.replaceWith(fresh);
    return fresh;
  }
  Array.prototype.forEach.call(fresh.attributes, function (a) {
    section.setAttribute(a.name, a.value);
  });
  if (live.textContent.trim() !== freshLive.textContent.trim()) {
    live.replaceChildren.apply(live, Array.prototype.slice.call(freshLive.childNodes));
  }
  Array.prototype.slice.call(section.childNodes).forEach(function (node) {
    if (node !== live) {
      section.removeChild(node);
    }
  });
  var beforeLive = true;
  Array.prototype.slice.call(fresh.childNodes).forEach(function (node) {
    if (node === freshLive) {
      beforeLive = false;
    } else if (beforeLive) {
      section.insertBefore(node, live);
    } else {
      section.appendChild(node);
    }
  });
  return section;
};
