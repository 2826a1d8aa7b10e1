/* The receipt checker (/receipt): checks a receipt's Ed25519 signature in this browser with
   WebCrypto, against the key the hub publishes at /.well-known/regsync/hub-key, so a person need
   not trust the page's server for the verdict. That document is a key set (current and retired
   keys): the receipt's kid picks its key, and a retired key only vouches for receipts dated up
   to its retirement (national_hub/query/receipts.py check_receipt decides alike). Without this script the page still shows the
   server's own check (receipt_routes.py).

   The result is written into #browser-check with DOM text nodes only (never innerHTML: a
   receipt is untrusted text), and the root element's data-browser-verdict says what happened:
   genuine | forged | malformed | unsupported | error (tests read it), and data-browser-key which
   key the kid chose: current | retired | unknown. */
(function () {
  "use strict";

  var root = document.querySelector("[data-receipt-checker]");
  if (!root) {
    return;
  }
  var labels = JSON.parse(root.getAttribute("data-labels") || "{}");
  var keyUrl = root.getAttribute("data-key-url") || "/.well-known/regsync/hub-key";
  var form = document.getElementById("receipt-form");
  var input = document.getElementById("r");
  var out = document.getElementById("browser-check");
  var serverCheck = document.getElementById("server-check");

  var SIGNATURE_BYTES = 64;
  var MAX_TEXT = 4096;
  var KID = /^[0-9a-f]{16}$/;

  function Malformed(kind) {
    this.kind = kind;
  }

  // ---- reading a receipt: the same rules as national_hub/query/receipts.py -----------------

  function base64Bytes(text, urlSafe) {
    var ok = urlSafe ? /^[A-Za-z0-9_-]+$/ : /^[A-Za-z0-9+/]*={0,2}$/;
    if (!ok.test(text) || text.length % 4 === 1) {
      throw new Malformed(urlSafe ? "encoding" : "signature");
    }
    var std = text.replace(/-/g, "+").replace(/_/g, "/");
    while (std.length % 4) {
      std += "=";
    }
    var binary;
    try {
      binary = atob(std);
    } catch (e) {
      throw new Malformed(urlSafe ? "encoding" : "signature");
    }
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes;
  }

  function checkPayload(payload) {
    if (typeof payload !== "string") {
      throw new Malformed("payload");
    }
    var data;
    try {
      data = JSON.parse(payload);
    } catch (e) {
      throw new Malformed("payload");
    }
    if (data === null || typeof data !== "object" || Array.isArray(data)) {
      throw new Malformed("payload");
    }
    return data;
  }

  function checkKid(kid) {
    if (typeof kid !== "string" || !KID.test(kid)) {
      throw new Malformed("kid");
    }
    return kid;
  }

  function fromLink(text) {
    // A whole link copied from a QR code: its r parameter is the receipt.
    if (!/^https?:\/\//i.test(text)) {
      return text;
    }
    try {
      var r = new URL(text).searchParams.get("r");
      return r === null ? text : r.trim();
    } catch (e) {
      return text;
    }
  }

  function fromToken(text) {
    var parts = text.split(".");
    if (parts.length !== 3) {
      throw new Malformed("shape");
    }
    var payloadBytes = base64Bytes(parts[0], true);
    var signature = base64Bytes(parts[1], true);
    if (signature.length !== SIGNATURE_BYTES) {
      throw new Malformed("signature");
    }
    var payload;
    try {
      payload = new TextDecoder("utf-8", { fatal: true }).decode(payloadBytes);
    } catch (e) {
      throw new Malformed("payload");
    }
    return { payload: payload, facts: checkPayload(payload), signature: signature, kid: checkKid(parts[2]) };
  }

  function fromJson(text) {
    var data;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new Malformed("shape");
    }
    if (data && typeof data.receipt === "object" && data.receipt !== null) {
      data = data.receipt; // the whole answer of POST /v1/verify
    }
    if (!data || typeof data !== "object" || !("payload" in data) || !("signature" in data) || !("kid" in data)) {
      throw new Malformed("shape");
    }
    if (typeof data.signature !== "string") {
      throw new Malformed("signature");
    }
    var signature = base64Bytes(data.signature, false);
    if (signature.length !== SIGNATURE_BYTES) {
      throw new Malformed("signature");
    }
    return { payload: data.payload, facts: checkPayload(data.payload), signature: signature, kid: checkKid(data.kid) };
  }

  function readReceipt(raw) {
    var text = raw.trim();
    if (!text) {
      throw new Malformed("empty");
    }
    if (text.length > MAX_TEXT) {
      throw new Malformed("too_long");
    }
    text = fromLink(text);
    return text.charAt(0) === "{" ? fromJson(text) : fromToken(text);
  }

  // ---- the key and the signature -------------------------------------------------------------

  function pemToDer(pem) {
    var body = pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, "").replace(/\s+/g, "");
    return base64Bytes(body, false);
  }

  function hex(buffer) {
    return Array.prototype.map
      .call(new Uint8Array(buffer), function (b) {
        return ("0" + b.toString(16)).slice(-2);
      })
      .join("");
  }

  function groups(text) {
    return text.toUpperCase().match(/.{1,4}/g).join(" ");
  }

  // The key of the set the receipt's kid names, as {kid, public_key, status, retired_at};
  // null when the set has none. A document without `keys` (a hub before key rotation) is its
  // one current key.
  function keyFor(doc, kid) {
    var keys = Array.isArray(doc.keys) ? doc.keys : [{ kid: doc.kid, public_key: doc.public_key, status: "current" }];
    for (var i = 0; i < keys.length; i++) {
      if (keys[i] && keys[i].kid === kid && typeof keys[i].public_key === "string") {
        return keys[i];
      }
    }
    return null;
  }

  // Whether a receipt dated asOf was signed while a key retired at retiredAt still signed;
  // an unreadable date on either side is not.
  function signedBefore(asOf, retiredAt) {
    var at = typeof asOf === "string" ? Date.parse(asOf) : NaN;
    var end = typeof retiredAt === "string" ? Date.parse(retiredAt) : NaN;
    return !isNaN(at) && !isNaN(end) && at <= end;
  }

  function standing(key) {
    if (key.status === "retired") {
      return label("standing", "retired").replace("{retired_at}", beijing(key.retired_at));
    }
    if (key.status === "next") {
      return label("standing", "next");
    }
    return label("standing", "current");
  }

  function fetchKey() {
    return fetch(keyUrl, { headers: { Accept: "application/json" }, cache: "no-store" }).then(function (answer) {
      if (!answer.ok) {
        throw new Error("hub-key " + answer.status);
      }
      return answer.json();
    });
  }

  // ---- showing the result --------------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function beijing(asOf) {
    // The wire's UTC instant shown as Beijing wall-clock time (UTC+8, no daylight saving).
    var ms = Date.parse(asOf);
    if (typeof asOf !== "string" || isNaN(ms)) {
      return "—";
    }
    var d = new Date(ms + 8 * 3600 * 1000);
    function two(n) {
      return ("0" + n).slice(-2);
    }
    return (
      d.getUTCFullYear() + "-" + two(d.getUTCMonth() + 1) + "-" + two(d.getUTCDate()) + " " +
      two(d.getUTCHours()) + ":" + two(d.getUTCMinutes()) + ":" + two(d.getUTCSeconds()) + "（北京时间）"
    );
  }

  function label(table, code) {
    if (code === null || code === undefined) {
      return "—";
    }
    return (labels[table] && labels[table][code]) || String(code);
  }

  function factsList(facts) {
    var dl = el("dl", "fields receipt-facts");
    var rows = [
      ["核验结论", label("verdicts", facts.verdict)],
      ["执业证书编码", facts.cert_no],
      ["记录版本", facts.record_version],
      ["注册状态", label("statuses", facts.status)],
      ["核验时间", beijing(facts.as_of)],
    ];
    rows.forEach(function (row) {
      var div = el("div");
      div.appendChild(el("dt", null, row[0]));
      div.appendChild(el("dd", null, row[1] === null || row[1] === undefined ? "—" : row[1]));
      dl.appendChild(div);
    });
    return dl;
  }

  function show(verdict, parts) {
    while (out.firstChild) {
      out.removeChild(out.firstChild);
    }
    out.className = "check check-" + verdict;
    parts.forEach(function (part) {
      out.appendChild(part);
    });
    out.hidden = false;
    root.setAttribute("data-browser-verdict", verdict);
    // A verdict of this browser's own makes the server's (same receipt) redundant; without one
    // (no Ed25519 here, no key) the server's stays as the answer.
    if (serverCheck && (verdict === "genuine" || verdict === "forged")) {
      serverCheck.hidden = true;
    }
  }

  function heading(icon, text) {
    var h = el("h2", "check-title");
    h.appendChild(el("span", "check-icon", icon)).setAttribute("aria-hidden", "true");
    h.appendChild(document.createTextNode(" " + text));
    return h;
  }

  function keyLine(fingerprint, kid, key) {
    var p = el("p", "key-line");
    p.appendChild(document.createTextNode("签名所用公钥指纹（SHA-256）："));
    p.appendChild(el("code", "fingerprint", groups(fingerprint))).setAttribute("data-fingerprint", fingerprint);
    p.appendChild(document.createTextNode("；密钥编号 "));
    p.appendChild(el("code", null, kid));
    if (key) {
      p.appendChild(document.createTextNode("（" + standing(key) + "）"));
    }
    return p;
  }

  function serverNote() {
    return serverCheck ? el("p", null, "下方为本站服务器的核验结果。") : el("p", null, "请稍后重试，或使用命令 national-hub check-receipt 核验。");
  }

  function showGenuine(receipt, fingerprint, kid, key) {
    var parts = [
      heading("✓", "真实有效：由全国医师执业注册同步中心签发"),
      el("p", null, "您的浏览器已用本中心公布的公钥核验了这份回执的 Ed25519 签名：内容与签发时一字不差。"),
      el("h3", null, "回执证明的内容"),
      factsList(receipt.facts),
      el("p", "hint", "回执只证明本中心在核验时间给出的结论；此后注册状态可能变化，请以最新查询为准。"),
      keyLine(fingerprint, kid, key),
    ];
    if (typeof receipt.facts.cert_no === "string" && /^[0-9]{15}$/.test(receipt.facts.cert_no)) {
      var link = el("a", null, "查看该执业证书编码的最新注册信息");
      link.href = "/physicians/" + receipt.facts.cert_no;
      var p = el("p");
      p.appendChild(link);
      parts.push(p);
    }
    show("genuine", parts);
  }

  // why: "unknown_key" (no key of the set has the receipt's kid; kid is then the current
  // key's), "after_retirement" (a retired key's signature dated after its retirement) or
  // "signature" (the signature does not match).
  function showForged(receipt, fingerprint, kid, why, key) {
    var text = {
      unknown_key: "这份回执声称由编号为 " + receipt.kid + " 的密钥签名，而本中心没有这个编号的公钥（现用公钥编号为 " + kid + "）。",
      after_retirement:
        "这份回执由编号为 " + receipt.kid + " 的旧密钥签名，但该密钥停用后本中心不再用它签发回执，而回执所写的核验时间晚于停用时间。",
      signature: "签名与回执内容不符：回执内容在签发后被改动过，或签名并非本中心所签。",
    }[why];
    show("forged", [
      heading("✗", "签名不符：此回执被改动过或并非本中心签发"),
      el("p", null, text),
      el("p", null, "请不要采信这份回执。如需确认，请重新进行证书核验。"),
      el("h3", null, "回执声称的内容（未经证实，不可采信）"),
      factsList(receipt.facts),
      keyLine(fingerprint, kid, key),
    ]);
  }

  function serverFallback(fromUser) {
    // Sent by the person and not checkable here: let the server check it (the form's own GET).
    if (fromUser && form) {
      form.submit();
      return true;
    }
    return false;
  }

  function check(raw, fromUser) {
    var receipt;
    try {
      receipt = readReceipt(raw);
    } catch (e) {
      if (!(e instanceof Malformed)) {
        throw e;
      }
      show("malformed", [heading("!", "无法读取回执"), el("p", null, label("malformed", e.kind))]);
      return Promise.resolve();
    }
    if (!window.crypto || !window.crypto.subtle) {
      if (serverFallback(fromUser)) {
        return Promise.resolve();
      }
      show("unsupported", [
        heading("!", "此浏览器无法在本机核验签名"),
        el("p", null, "在本机核验需要通过 HTTPS 打开本页，并使用支持 Ed25519 的浏览器。"),
        serverNote(),
      ]);
      return Promise.resolve();
    }
    show("checking", [el("p", null, "正在您的浏览器中核验签名……")]);
    return fetchKey()
      .then(function (doc) {
        var chosen = keyFor(doc, receipt.kid);
        root.setAttribute("data-browser-key", chosen ? chosen.status : "unknown");
        // No key by the receipt's kid: the verdict is shown with the current key's fingerprint.
        var der = pemToDer(chosen ? chosen.public_key : doc.public_key);
        return Promise.all([
          crypto.subtle.digest("SHA-256", der),
          crypto.subtle.importKey("spki", der, { name: "Ed25519" }, false, ["verify"]).then(
            function (key) {
              return key;
            },
            function () {
              return null; // this browser's WebCrypto has no Ed25519
            }
          ),
          chosen ? chosen.kid : doc.kid,
          chosen,
        ]);
      })
      .then(function (got) {
        var fingerprint = hex(got[0]);
        var key = got[1];
        var kid = got[2];
        var chosen = got[3];
        if (key === null) {
          if (serverFallback(fromUser)) {
            return;
          }
          show("unsupported", [
            heading("!", "此浏览器无法在本机核验签名"),
            el("p", null, "您的浏览器不支持 Ed25519 签名算法。"),
            serverNote(),
            keyLine(fingerprint, kid),
          ]);
          return;
        }
        if (chosen === null) {
          showForged(receipt, fingerprint, kid, "unknown_key", null);
          return;
        }
        var data = new TextEncoder().encode(receipt.payload);
        return crypto.subtle.verify({ name: "Ed25519" }, key, receipt.signature, data).then(function (ok) {
          if (!ok) {
            showForged(receipt, fingerprint, kid, "signature", chosen);
          } else if (chosen.status === "retired" && !signedBefore(receipt.facts.as_of, chosen.retired_at)) {
            showForged(receipt, fingerprint, kid, "after_retirement", chosen);
          } else {
            showGenuine(receipt, fingerprint, kid, chosen);
          }
        });
      })
      .catch(function () {
        show("error", [heading("!", "暂时无法取得本中心的公钥"), serverNote()]);
      });
  }

  // The server's check says the in-browser one needs JavaScript: it is running.
  Array.prototype.forEach.call(document.querySelectorAll(".js-note"), function (note) {
    note.hidden = true;
  });

  if (form && input) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      // The server's check on the page was of the receipt it was opened with.
      if (serverCheck) {
        serverCheck.hidden = true;
      }
      var text = input.value.trim();
      if (text && text.length <= MAX_TEXT) {
        history.replaceState(null, "", "/receipt?r=" + encodeURIComponent(text));
      }
      check(input.value, true);
    });
    if (input.value.trim() && root.getAttribute("data-malformed") === null) {
      check(input.value, false);
    }
  }
})();
