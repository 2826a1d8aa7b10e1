/* regsync ops dashboard: polls the hub every 2 s and renders the province table and a lag chart.
 *
 * Data: GET /v1/sync/status           -> {provinces: [{province, name, status, reason, ...}]}
 *       GET /v1/sync/lag-history?minutes=15 -> {provinces: {"50": [{t, lag_seconds}, ...]}}
 * No external resources, no build step. Every value from the hub may be null or missing.
 */
(function () {
  "use strict";

  var REFRESH_MS = 2000;
  var FETCH_TIMEOUT_MS = 5000;
  var HISTORY_MINUTES = 15;
  var LAG_ALERT_SECONDS = 60;
  var SVG_NS = "http://www.w3.org/2000/svg";

  var STATUS = {
    ok: { zh: "正常", en: "ok", sym: "●" },
    lagging: { zh: "延迟", en: "lagging", sym: "▲" },
    stalled: { zh: "停滞", en: "stalled", sym: "■" },
    publishing_blocked: { zh: "发布受阻", en: "publishing blocked", sym: "✖" },
    offline: { zh: "离线", en: "offline", sym: "○" },
    unknown: { zh: "未知", en: "unknown", sym: "?" }
  };
  var STATUS_ORDER = ["ok", "lagging", "stalled", "publishing_blocked", "offline", "unknown"];

  // Fallback names when a code appears only in the lag history (GB/T 2260; 66 = 兵团).
  var PROVINCE_NAMES = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省", "31": "上海市", "32": "江苏省",
    "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区",
    "46": "海南省", "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省",
    "54": "西藏自治区", "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区", "66": "新疆生产建设兵团"
  };

  // Okabe-Ito colours (distinguishable with colour-vision deficiency) plus a dash per series.
  var PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#6e7781", "#000000"];
  var DASHES = ["", "8 4", "2 3", "10 3 2 3", "4 4", "1 2"];

  var names = {};          // code -> Chinese name, from /v1/sync/status
  var knownCodes = {};     // every province code seen; colours follow their sorted order
  var lastSuccess = null;  // Date of the last successful status fetch
  var lastHistory = null;  // last good lag-history payload, redrawn on resize
  var failures = {};       // endpoint -> error message
  var skewMs = 0;          // hub clock minus this browser's clock, for heartbeat ages

  // ---------- small helpers ----------

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function svg(tag, attrs, children) {
    var node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function setAttrs(node, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") node.textContent = String(v);
      else node.setAttribute(k, String(v));
    });
  }

  function append(node, children) {
    if (children === null || children === undefined) return;
    if (!Array.isArray(children)) children = [children];
    children.forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function isNum(v) { return typeof v === "number" && isFinite(v); }

  function num(v) {
    if (isNum(v)) return v;
    if (typeof v === "string" && v.trim() !== "" && isFinite(Number(v))) return Number(v);
    return null;
  }

  function str(v) { return v === null || v === undefined ? "" : String(v); }

  function parseTime(v) {
    if (typeof v !== "string" && !isNum(v)) return null;
    var ms = typeof v === "string" ? Date.parse(v) : v;
    return isNum(ms) ? ms : null;
  }

  var DASH = "—";

  function fmtInt(v) {
    var n = num(v);
    return n === null ? DASH : Math.round(n).toLocaleString("en-US");
  }

  function fmtSeconds(v) {
    var s = num(v);
    if (s === null) return DASH;
    if (s < 0) s = 0;
    if (s < 9.95) return s.toFixed(1) + " s";
    var r = Math.round(s);
    if (r < 120) return r + " s";
    if (r < 7200) return Math.floor(r / 60) + " min " + (r % 60) + " s";
    if (r < 172800) return Math.floor(r / 3600) + " h " + Math.floor((r % 3600) / 60) + " min";
    return Math.floor(r / 86400) + " d " + Math.floor((r % 86400) / 3600) + " h";
  }

  function pad2(n) { return (n < 10 ? "0" : "") + n; }

  function clock(ms) {
    var d = new Date(ms);
    return pad2(d.getHours()) + ":" + pad2(d.getMinutes()) + ":" + pad2(d.getSeconds());
  }

  function hhmm(ms) {
    var d = new Date(ms);
    return pad2(d.getHours()) + ":" + pad2(d.getMinutes());
  }

  function provinceName(code, given) {
    return str(given) || names[code] || PROVINCE_NAMES[code] || "";
  }

  function statusKey(v) {
    var s = str(v);
    return Object.prototype.hasOwnProperty.call(STATUS, s) ? s : "unknown";
  }

  function colourFor(code) {
    knownCodes[code] = true;
    var i = Object.keys(knownCodes).sort().indexOf(code);
    return { stroke: PALETTE[i % PALETTE.length], dash: DASHES[i % DASHES.length] };
  }

  function fetchJSON(path) {
    var ctrl = typeof AbortController === "function" ? new AbortController() : null;
    var timer = setTimeout(function () { if (ctrl) ctrl.abort(); }, FETCH_TIMEOUT_MS);
    return fetch(path, {
      headers: { Accept: "application/json" },
      cache: "no-store",
      signal: ctrl ? ctrl.signal : undefined
    }).then(function (resp) {
      noteServerClock(resp.headers.get("Date"));
      if (!resp.ok) {
        var msg = "HTTP " + resp.status + (resp.statusText ? " " + resp.statusText : "");
        // The hub's error body is {"error": {"code", "message"}}; show its message if any.
        return resp.json().then(function (body) {
          return body && body.error && body.error.message ? msg + ": " + body.error.message : msg;
        }, function () { return msg; }).then(function (m) { throw new Error(m); });
      }
      return resp.json();
    }).catch(function (err) {
      if (err && err.name === "AbortError") throw new Error("no answer within " + FETCH_TIMEOUT_MS / 1000 + " s");
      if (err instanceof SyntaxError) throw new Error("response is not JSON");
      throw err;
    }).finally(function () { clearTimeout(timer); });
  }

  // Heartbeat ages compare the hub's timestamps with "now": use the hub's clock (its HTTP Date
  // header, 1 s resolution) when this browser's clock is off by more than that.
  function noteServerClock(dateHeader) {
    var server = parseTime(dateHeader);
    if (server === null) return;
    var skew = server + 500 - Date.now();
    skewMs = Math.abs(skew) > 1500 ? skew : 0;
  }

  function hubNow(data) {
    var generated = data ? parseTime(data.generated_at) : null;  // optional field
    return generated !== null ? generated : Date.now() + skewMs;
  }

  // ---------- province table ----------

  function badge(status, rawStatus) {
    var info = STATUS[status];
    var label = info.zh + " " + info.en;
    if (status === "unknown" && rawStatus && rawStatus !== "unknown") label += " (" + rawStatus + ")";
    return el("span", { "class": "badge status-" + status }, [
      el("span", { "class": "sym", "aria-hidden": "true", text: info.sym }),
      el("span", { "class": "label", text: label })
    ]);
  }

  function numCell(text, cls, title) {
    return el("td", { "class": "num" + (cls ? " " + cls : ""), title: title || null, text: text });
  }

  function heartbeatCell(iso, now) {
    var ms = parseTime(iso);
    if (ms === null) return numCell(DASH, "muted", "no heartbeat received 未收到心跳");
    var age = Math.max(0, (now - ms) / 1000);
    var cls = age >= 30 ? "bad" : age >= 5 ? "warn" : "";
    return el("td", { "class": "num" + (cls ? " " + cls : ""), title: str(iso) }, [
      el("time", { datetime: str(iso), text: fmtSeconds(age) + " ago" })
    ]);
  }

  // The province clock's offset from the hub's (optional field), by which its lag is corrected.
  function clockTitle(v) {
    var s = num(v);
    if (s === null) return null;
    return "省份时钟偏差 province clock offset: " + (s >= 0 ? "+" : "") + s.toFixed(2) + " s (lag corrected)";
  }

  function seqText(p) {
    return [p.applied_seq, p.province_published_seq, p.province_committed_seq]
      .map(fmtInt).join(" / ");
  }

  function renderRow(p, now) {
    var code = str(p.province);
    var status = statusKey(p.status);
    var lag = num(p.lag_seconds);
    var backlog = num(p.outbox_backlog);
    var dead = num(p.dead_letters);
    var name = provinceName(code, p.name);
    return el("tr", { "data-province": code, "data-status": status }, [
      el("th", { scope: "row" }, [
        el("span", { "class": "code", text: code || DASH }),
        el("span", { "class": "name", lang: "zh-CN", text: name })
      ]),
      el("td", null, badge(status, str(p.status))),
      el("td", { "class": "reason", text: str(p.reason) || DASH }),
      numCell(fmtSeconds(lag), lag !== null && lag >= LAG_ALERT_SECONDS ? "bad" : lag !== null && lag >= 10 ? "warn" : "",
        clockTitle(p.clock_offset_seconds)),
      numCell(fmtInt(backlog), backlog !== null && backlog > 0 ? "warn" : ""),
      numCell(fmtInt(p.consumer_lag_messages)),
      heartbeatCell(p.last_heartbeat_at, now),
      numCell(fmtInt(dead), dead !== null && dead > 0 ? "bad" : ""),
      numCell(seqText(p), "seq", "applied at the hub / published by the province / committed at the province")
    ]);
  }

  function renderStatus(data) {
    var list = data && Array.isArray(data.provinces) ? data.provinces : [];
    list = list.filter(function (p) { return p && typeof p === "object"; });
    list.forEach(function (p) {
      var code = str(p.province);
      if (code && p.name) names[code] = String(p.name);
      if (code) knownCodes[code] = true;
    });
    var tbody = $("status-rows");
    clear(tbody);
    var now = hubNow(data);
    if (list.length === 0) {
      tbody.appendChild(el("tr", null, el("td", { colspan: 9, "class": "empty" }, [
        "没有省份数据 ", el("span", { lang: "en", text: "No provinces reported by the hub." })
      ])));
    }
    list.forEach(function (p) { tbody.appendChild(renderRow(p, now)); });
    renderSummary(list);
  }

  function renderSummary(list) {
    var counts = {};
    list.forEach(function (p) {
      var s = statusKey(p.status);
      counts[s] = (counts[s] || 0) + 1;
    });
    var ul = $("summary");
    clear(ul);
    ul.appendChild(el("li", { "class": "muted", text: list.length + " 个省份 provinces" }));
    STATUS_ORDER.forEach(function (s) {
      if (!counts[s]) return;
      var li = el("li", { "data-status": s }, badge(s, s));
      li.firstChild.appendChild(el("span", { "class": "count", text: "× " + counts[s] }));
      ul.appendChild(li);
    });
  }

  // ---------- lag chart ----------

  function niceMax(v) {
    if (!(v > 0)) return 1;
    var exp = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) {
      if (v <= steps[i] * exp) return steps[i] * exp;
    }
    return 10 * exp;
  }

  function collectSeries(data) {
    var raw = data && data.provinces && typeof data.provinces === "object" ? data.provinces : {};
    return Object.keys(raw).sort().map(function (code) {
      var pts = Array.isArray(raw[code]) ? raw[code] : [];
      var points = [];
      pts.forEach(function (pt) {
        if (!pt || typeof pt !== "object") return;
        var t = parseTime(pt.t);
        if (t === null) return;
        points.push({ t: t, v: num(pt.lag_seconds) });  // v null = gap
      });
      points.sort(function (a, b) { return a.t - b.t; });
      return { code: code, points: points };
    });
  }

  function renderChart(data) {
    var host = $("lag-chart");
    var legend = $("lag-legend");
    clear(host);
    clear(legend);
    var series = collectSeries(data);
    series.forEach(function (s) { knownCodes[s.code] = true; });
    var width = Math.max(320, host.clientWidth || 1000);
    var height = 260;
    var m = { top: 14, right: 16, bottom: 28, left: 56 };
    var iw = width - m.left - m.right;
    var ih = height - m.top - m.bottom;

    // Time window: the last 15 minutes ending at the newest point (the hub's clock), or now.
    var newest = null;
    var maxV = 0;
    series.forEach(function (s) {
      s.points.forEach(function (p) {
        if (newest === null || p.t > newest) newest = p.t;
        if (p.v !== null && p.v > maxV) maxV = p.v;
      });
    });
    var end = newest === null ? Date.now() : newest;
    var start = end - HISTORY_MINUTES * 60 * 1000;
    var yMax = niceMax(maxV * 1.05);

    function x(t) { return m.left + ((t - start) / (end - start)) * iw; }
    function y(v) { return m.top + ih - (Math.min(v, yMax) / yMax) * ih; }

    var latest = series.map(function (s) {
      for (var i = s.points.length - 1; i >= 0; i--) {
        if (s.points[i].v !== null) return s.points[i].v;
      }
      return null;
    });
    var summary = series.length === 0 ? "No lag history yet." : series.map(function (s, i) {
      return s.code + " " + provinceName(s.code) + ": " + fmtSeconds(latest[i]);
    }).join("; ");

    var root = svg("svg", {
      viewBox: "0 0 " + width + " " + height,
      role: "img",
      "aria-labelledby": "lag-chart-title lag-chart-desc"
    }, [
      svg("title", { id: "lag-chart-title", text: "Freshness lag per province, last " + HISTORY_MINUTES + " minutes" }),
      svg("desc", { id: "lag-chart-desc", text: "Latest lag: " + summary })
    ]);

    // Y grid and labels
    var gy = svg("g", { "class": "axis grid" });
    for (var k = 0; k <= 4; k++) {
      var v = (yMax * k) / 4;
      gy.appendChild(svg("line", { x1: m.left, x2: m.left + iw, y1: y(v), y2: y(v) }));
      gy.appendChild(svg("text", { x: m.left - 6, y: y(v) + 4, "text-anchor": "end", text: fmtAxis(v) }));
    }
    // X ticks every 3 minutes on the wall clock
    var step = 3 * 60 * 1000;
    for (var t = Math.ceil(start / step) * step; t <= end; t += step) {
      gy.appendChild(svg("line", { x1: x(t), x2: x(t), y1: m.top + ih, y2: m.top + ih + 4 }));
      gy.appendChild(svg("text", { x: x(t), y: m.top + ih + 17, "text-anchor": "middle", text: hhmm(t) }));
    }
    gy.appendChild(svg("line", { x1: m.left, x2: m.left + iw, y1: m.top + ih, y2: m.top + ih }));
    root.appendChild(gy);

    if (yMax >= LAG_ALERT_SECONDS) {
      root.appendChild(svg("g", { "class": "threshold" }, [
        svg("line", { x1: m.left, x2: m.left + iw, y1: y(LAG_ALERT_SECONDS), y2: y(LAG_ALERT_SECONDS) }),
        svg("text", { x: m.left + iw - 4, y: y(LAG_ALERT_SECONDS) - 5, "text-anchor": "end", text: "60 s alert 告警线" })
      ]));
    }

    var gs = svg("g", { "class": "series" });
    series.forEach(function (s) {
      var d = "";
      var pen = false;
      s.points.forEach(function (p) {
        if (p.t < start || p.v === null) { pen = false; return; }
        d += (pen ? "L" : "M") + x(p.t).toFixed(1) + " " + y(p.v).toFixed(1);
        pen = true;
      });
      var c = colourFor(s.code);
      if (d) {
        gs.appendChild(svg("path", {
          d: d, stroke: c.stroke, "stroke-dasharray": c.dash || null, "data-province": s.code
        }));
      }
    });
    root.appendChild(gs);

    if (series.every(function (s) { return s.points.length === 0; })) {
      root.appendChild(svg("text", {
        "class": "nodata", x: m.left + iw / 2, y: m.top + ih / 2, "text-anchor": "middle",
        text: "暂无延迟数据 No lag history yet"
      }));
    }
    host.appendChild(root);

    series.forEach(function (s, i) {
      var c = colourFor(s.code);
      legend.appendChild(el("li", { "data-province": s.code }, [
        svg("svg", { viewBox: "0 0 28 10", "aria-hidden": "true" },
          svg("line", { x1: 1, x2: 27, y1: 5, y2: 5, stroke: c.stroke, "stroke-width": 3, "stroke-dasharray": c.dash || null })),
        el("span", { "class": "code", text: s.code }),
        el("span", { lang: "zh-CN", text: provinceName(s.code) }),
        el("span", { "class": "muted", text: "latest " + fmtSeconds(latest[i]) })
      ]));
    });
  }

  function fmtAxis(v) {
    if (v === 0) return "0";
    if (v < 10) return (Math.round(v * 10) / 10) + " s";
    if (v < 600) return Math.round(v) + " s";
    return Math.round(v / 60) + " min";
  }

  // ---------- refresh loop ----------

  function showState() {
    var banner = $("error-banner");
    var keys = Object.keys(failures);
    if (keys.length === 0) {
      banner.hidden = true;
      banner.textContent = "";
      $("main").classList.remove("stale");
    } else {
      var msg = "无法刷新数据 Could not refresh: " + keys.map(function (k) {
        return k + " — " + failures[k];
      }).join("; ") + ". ";
      msg += lastSuccess
        ? "Showing data from " + clock(lastSuccess) + " 显示的是旧数据."
        : "No data yet 尚无数据.";
      banner.textContent = msg;
      banner.hidden = false;
      $("main").classList.toggle("stale", Object.prototype.hasOwnProperty.call(failures, "/v1/sync/status"));
    }
    if (!lastSuccess && Object.prototype.hasOwnProperty.call(failures, "/v1/sync/status")) {
      var tbody = $("status-rows");
      clear(tbody);
      tbody.appendChild(el("tr", null, el("td", { colspan: 9, "class": "empty" }, [
        "无法从全国库取得状态 ", el("span", { lang: "en", text: "The hub's sync status could not be loaded." })
      ])));
    }
    var lu = $("last-updated");
    if (lastSuccess) {
      lu.textContent = clock(lastSuccess);
      lu.setAttribute("datetime", new Date(lastSuccess).toISOString());
    }
  }

  function load(path, render) {
    var key = path.split("?")[0];
    return fetchJSON(path).then(function (data) {
      try {
        render(data);
        delete failures[key];
      } catch (err) {
        // A payload this page cannot draw must not stop the refresh loop.
        failures[key] = "could not display the answer (" + ((err && err.message) || err) + ")";
        if (window.console) window.console.error(err);
      }
    }, function (err) {
      failures[key] = (err && err.message) || String(err);
    });
  }

  function tick() {
    var status = load("/v1/sync/status", function (data) {
      renderStatus(data);
      lastSuccess = Date.now();
    });
    var history = load("/v1/sync/lag-history?minutes=" + HISTORY_MINUTES, function (data) {
      renderChart(data);
      lastHistory = data;
    });
    Promise.all([status, history]).then(function () {
      showState();
      setTimeout(tick, REFRESH_MS);
    });
  }

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { if (lastHistory) renderChart(lastHistory); }, 150);
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", tick);
  else tick();
})();
