// The register form's live checks (templates/register.html; the form works without this).
// - 转入 shows the transfer fieldset, 首次注册 hides (and disables) it.
// - The category shows its own scopes only; at most three can be ticked.
// - As a field is typed (300 ms after the last key) the server's own parse checks it
//   (POST /register/check, the same rules as the submit: no checksum is written twice) and
//   its Chinese message appears beside the field (aria-live polite); before the form is
//   submitted every filled field is checked the same way, and a refused one stops the submit.
"use strict";

(function () {
  var form = document.getElementById("register-form");
  if (!(form instanceof HTMLFormElement)) {
    return;
  }
  var CHECKED = ["cert_no", "id_number", "gender", "org_code", "org_region_code",
    "authority_region_code", "from_cert_no", "registered_on", "name", "org_name",
    "authority_name", "from_province", "scopes"];
  var MAX_SCOPES = 3;
  var csrf = form.querySelector("input[name=csrf]").value;
  var timers = {};

  function byId(id) {
    return document.getElementById(id);
  }

  // -- what applies --------------------------------------------------------------------------

  function kind() {
    var chosen = form.querySelector("input[name=kind]:checked");
    return chosen ? chosen.value : "new";
  }

  function showTransfer() {
    var fields = byId("transfer-fields");
    var on = kind() === "transfer";
    fields.hidden = !on;
    fields.querySelectorAll("input, select").forEach(function (el) {
      el.disabled = !on;
    });
  }

  function showScopes() {
    var category = form.elements.namedItem("category").value;
    form.querySelectorAll(".scope-group").forEach(function (group) {
      var on = group.dataset.category === category;
      group.hidden = !on;
      group.querySelectorAll("input").forEach(function (box) {
        box.disabled = !on;
        if (!on) {
          box.checked = false;
        }
      });
    });
    limitScopes();
  }

  function limitScopes() {
    var boxes = form.querySelectorAll(".scope-group:not([hidden]) input[type=checkbox]");
    var ticked = Array.prototype.filter.call(boxes, function (b) { return b.checked; }).length;
    boxes.forEach(function (b) {
      if (!b.checked) {
        b.disabled = ticked >= MAX_SCOPES;
      }
    });
    var live = byId("scopes-live");
    if (ticked >= MAX_SCOPES) {
      show("scopes", { note: "已选择 " + ticked + " 项：执业范围最多三项，如需更换请先取消一项。", known: true });
    } else if (live && live.dataset.kind === "note") {
      show("scopes", {});
    }
  }

  // -- the server's word on one field --------------------------------------------------------

  function control(name) {
    return name === "scopes" ? byId("scopes") : byId(name);
  }

  function show(name, answer) {
    var live = byId(name + "-live");
    var el = control(name);
    if (!live || !el) {
      return;
    }
    var described = (el.getAttribute("aria-describedby") || "").split(" ").filter(function (id) {
      return id && id !== name + "-live";
    });
    live.className = "live-check";
    live.textContent = "";
    delete live.dataset.kind;
    if (answer.message) {
      live.className = "live-check field-error";
      live.dataset.kind = "error";
      var strong = document.createElement("strong");
      strong.textContent = "错误：";
      live.appendChild(strong);
      live.appendChild(document.createTextNode(answer.message));
      el.setAttribute("aria-invalid", "true");
      described.push(name + "-live");
    } else {
      el.removeAttribute("aria-invalid");
      var old = byId(name + "-error");
      if (old) {
        old.hidden = true;
      }
      if (answer.note) {
        live.className = "live-check " + (answer.known ? "field-ok" : "field-warn");
        live.dataset.kind = "note";
        live.textContent = answer.note;
        described.push(name + "-live");
      }
    }
    if (described.length) {
      el.setAttribute("aria-describedby", described.join(" "));
    } else {
      el.removeAttribute("aria-describedby");
    }
  }

  function check(name) {
    var data = new URLSearchParams(new FormData(form));
    data.set("field", name);
    return fetch(form.dataset.check, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/x-www-form-urlencoded" },
      body: data.toString(),
      credentials: "same-origin"
    }).then(function (resp) {
      if (!resp.ok) {
        throw new Error("check answered " + resp.status);
      }
      return resp.json();
    }).then(function (answer) {
      show(name, answer);
      return answer;
    });
  }

  function later(name) {
    window.clearTimeout(timers[name]);
    timers[name] = window.setTimeout(function () {
      check(name).catch(function () { /* the submit checks it anyway */ });
    }, 300);
  }

  function filled(name) {
    if (name === "scopes") {
      return form.querySelector(".scope-group:not([hidden]) input:checked") !== null;
    }
    var el = byId(name);
    return el && !el.disabled && el.value.trim() !== "";
  }

  // -- before the submit ---------------------------------------------------------------------

  function release() {
    window.regsyncConsole.releaseForm(form);
  }

  form.addEventListener("submit", function (event) {
    if (form.dataset.checked === "yes") {
      return;
    }
    event.preventDefault();
    // A second click while the checks are out waits for their answer (one round, one submit).
    if (form.dataset.checking === "yes") {
      return;
    }
    form.dataset.checking = "yes";
    var names = CHECKED.filter(filled);
    Promise.all(names.map(check)).then(function (answers) {
      var refused = answers.filter(function (a) { return a.message; });
      window.setTimeout(function () {
        delete form.dataset.checking;
        release();
        if (refused.length) {
          var first = control(refused[0].field);
          if (first) {
            first.focus();
          }
          return;
        }
        form.dataset.checked = "yes";
        form.requestSubmit();
      }, 0);
    }).catch(function () {
      // The check could not be asked: the server checks the submit itself.
      window.setTimeout(function () {
        delete form.dataset.checking;
        release();
        form.dataset.checked = "yes";
        form.requestSubmit();
      }, 0);
    });
  });

  form.addEventListener("input", function (event) {
    var name = event.target.name;
    if (name === "scopes") {
      limitScopes();
      later("scopes");
    } else if (CHECKED.indexOf(name) >= 0 && event.target.tagName === "INPUT") {
      later(name);
    }
  });
  form.addEventListener("change", function (event) {
    var name = event.target.name;
    if (name === "kind") {
      showTransfer();
    } else if (name === "category") {
      showScopes();
    } else if (name === "gender" || name === "from_province") {
      later(name);
    }
  });

  showTransfer();
  showScopes();
})();
