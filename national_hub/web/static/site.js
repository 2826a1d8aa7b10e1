// The public site's script. Every page works without it; it adds suggestions while typing,
// live refresh of the freshness block, and the not-found page's wait for the record.
// Loaded from /static/site/ (CSP: no inline script); no external resources.
"use strict";

(function () {
  // ---- suggestions ----------------------------------------------------------------------
  var DEBOUNCE_MS = 250;

  function countText(item) {
    return item.capped ? item.count + "+ 条" : item.count + " 条";
  }

  function setupSuggest(input) {
    var field = input.getAttribute("data-suggest");
    var list = document.createElement("ul");
    var listId = input.id + "-suggest";
    list.id = listId;
    list.className = "suggest";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", field === "name" ? "姓名建议" : "执业机构建议");
    list.hidden = true;
    input.parentNode.appendChild(list);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listId);

    var timer = null;
    var active = -1;
    var asked = 0;

    function close() {
      list.hidden = true;
      list.textContent = "";
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function choose(text) {
      input.value = text;
      close();
      input.focus();
    }

    function mark(i) {
      var options = list.querySelectorAll("[role=option]");
      if (!options.length) return;
      active = (i + options.length) % options.length;
      for (var k = 0; k < options.length; k++) {
        options[k].setAttribute("aria-selected", k === active ? "true" : "false");
      }
      input.setAttribute("aria-activedescendant", options[active].id);
      options[active].scrollIntoView({ block: "nearest" });
    }

    function show(items) {
      list.textContent = "";
      active = -1;
      if (!items.length) { close(); return; }
      items.forEach(function (item, i) {
        var li = document.createElement("li");
        li.id = listId + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.setAttribute("data-value", item.text);
        var text = document.createElement("span");
        text.textContent = item.text;          // text, never markup
        var count = document.createElement("span");
        count.className = "count";
        count.textContent = countText(item);
        li.appendChild(text);
        li.appendChild(count);
        li.addEventListener("mousedown", function (ev) {
          ev.preventDefault();                 // keep the focus in the field
          choose(item.text);
        });
        list.appendChild(li);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function ask() {
      var typed = input.value.trim();
      if (!typed) { close(); return; }
      var mine = ++asked;
      fetch("/v1/suggest?" + field + "=" + encodeURIComponent(typed), {
        headers: { Accept: "application/json" },
        credentials: "omit"
      }).then(function (resp) {
        // A refusal (429 over the rate limit, 503 overloaded, 400) just hides the list.
        if (!resp.ok) { throw new Error(String(resp.status)); }
        return resp.json();
      }).then(function (body) {
        if (mine === asked) show(body.items || []);
      }).catch(function () {
        if (mine === asked) close();
      });
    }

    input.addEventListener("input", function () {
      if (timer) clearTimeout(timer);
      timer = setTimeout(ask, DEBOUNCE_MS);
    });
    input.addEventListener("keydown", function (ev) {
      if (list.hidden) return;
      if (ev.key === "ArrowDown") { ev.preventDefault(); mark(active + 1); }
      else if (ev.key === "ArrowUp") { ev.preventDefault(); mark(active - 1); }
      else if (ev.key === "Escape") { close(); }
      else if (ev.key === "Enter" && active >= 0) {
        ev.preventDefault();
        var options = list.querySelectorAll("[role=option]");
        choose(options[active].getAttribute("data-value"));
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }

  // ---- live freshness -------------------------------------------------------------------
  var FRESHNESS_MS = 5000;

  function setupFreshness(block) {
    var provinces = block.getAttribute("data-freshness-provinces");
    if (!provinces) return;
    var current = block;
    setInterval(function () {
      fetch("/partials/freshness?province=" + encodeURIComponent(provinces), { credentials: "omit" })
        .then(function (resp) { if (!resp.ok) throw new Error(String(resp.status)); return resp.text(); })
        .then(function (html) {
          // Parsed inertly (DOMParser runs no script) from our own server's escaped HTML.
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.querySelector("[data-freshness-provinces]");
          if (fresh) {
            var node = document.importNode(fresh, true);
            node.setAttribute("data-refreshed", String(Date.now()));
            current.replaceWith(node);
            current = node;
          }
        })
        .catch(function () { /* keep the last lines; the next round tries again */ });
    }, FRESHNESS_MS);
  }

  // ---- the not-found page's wait --------------------------------------------------------
  var WAIT_MS = 1500;

  function setupWait(block) {
    var cert = block.getAttribute("data-wait-cert");
    var status = block.querySelector("[data-wait-status]");
    var started = Date.now();
    function poll(delay) {
      setTimeout(function () {
        fetch("/v1/physicians/" + encodeURIComponent(cert), {
          headers: { Accept: "application/json" },
          credentials: "omit"
        }).then(function (resp) {
          if (resp.status === 200) {
            if (status) status.textContent = "已同步到全国，正在打开……";
            window.location.reload();
            return;
          }
          var next = WAIT_MS;
          if (resp.status === 429 || resp.status === 503) {
            var after = parseInt(resp.headers.get("Retry-After") || "2", 10);
            next = Math.max(WAIT_MS, after * 1000);
          }
          if (status) {
            var waited = Math.round((Date.now() - started) / 1000);
            status.textContent = "已等待 " + waited + " 秒，仍在同步，本页会自动更新……";
          }
          poll(next);
        }).catch(function () { poll(WAIT_MS * 2); });
      }, delay);
    }
    poll(WAIT_MS);
  }

  // A refused form: the first field named in error takes the focus, so a keyboard or screen
  // reader user lands on the message.
  function focusFirstError() {
    var invalid = document.querySelector("[aria-invalid=true]");
    if (invalid) invalid.focus();
  }

  function start() {
    focusFirstError();
    Array.prototype.forEach.call(document.querySelectorAll("input[data-suggest]"), setupSuggest);
    Array.prototype.forEach.call(document.querySelectorAll("[data-freshness-provinces]"), setupFreshness);
    Array.prototype.forEach.call(document.querySelectorAll("[data-wait-cert]"), setupWait);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
