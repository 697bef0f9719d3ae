// Orc console: live updates from GET /api/v1/events (server-sent events).
// A list adds new invocations and updates statuses in place; an
// invocation's page appends its log lines while it runs and reloads when
// its status changes. Without it, pages are as fresh as their last load.
"use strict";
(function () {
  var classes = { succeeded: "ok", queued: "busy", running: "busy", canceled: "muted", expired: "muted" };
  function badge(el, status) {
    el.textContent = status;
    el.className = "badge " + (classes[status] || "bad");
  }
  function cell(tr, child) {
    var td = document.createElement("td");
    if (child) td.appendChild(child);
    tr.appendChild(td);
    return td;
  }
  function link(href, text, cls) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    if (cls) a.className = cls;
    return a;
  }
  function row(e) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-id", e.id);
    cell(tr, link("/console/invocations/" + encodeURIComponent(e.id), e.id.slice(0, 8), "mono"));
    var p = cell(tr, link("/console/plugins/" + encodeURIComponent(e.plugin || ""), e.plugin || ""));
    var v = document.createElement("span");
    v.className = "muted";
    v.textContent = " " + (e.version || "");
    p.appendChild(v);
    var b = document.createElement("span");
    badge(b, e.status);
    cell(tr, b);
    cell(tr).textContent = "just now";
    cell(tr);
    return tr;
  }
  function open(query, on, onLog) {
    if (!window.EventSource) return;
    var es = new EventSource("/api/v1/events" + query);
    listen(es, "invocation", on);
    if (onLog) listen(es, "log", onLog);
  }
  function listen(es, name, on) {
    es.addEventListener(name, function (m) {
      try { on(JSON.parse(m.data)); } catch (err) { /* a malformed event is skipped */ }
    });
  }
  // logLine appends a line to a log panel as text, keeping the last 2000.
  function logLine(pre, stream, text) {
    var span = document.createElement("span");
    span.className = "log-" + (stream === "stdout" || stream === "stderr" ? stream : "orc");
    span.textContent = text + "\n";
    pre.appendChild(span);
    if (pre.childElementCount > 2000) pre.removeChild(pre.firstElementChild);
  }

  var list = document.querySelector("[data-live]");
  if (list) {
    var attr = function (name) { return list.getAttribute("data-" + name) || ""; };
    var plugin = attr("plugin"), only = attr("status"), version = attr("version"), owner = attr("owner");
    var since = Date.parse(attr("since")), until = Date.parse(attr("until"));
    var paged = list.hasAttribute("data-paged");
    var body = list.querySelector("tbody");
    // Whether a new invocation belongs in the list: its filters, as far
    // as an event tells them (the status is checked below).
    var fits = function (e) {
      var at = Date.parse(e.at);
      return (!version || e.version === version) && (!owner || String(e.owner_id) === owner) &&
        !(at < since) && !(at >= until);
    };
    open(plugin ? "?plugin=" + encodeURIComponent(plugin) : "", function (e) {
      var tr = body.querySelector('tr[data-id="' + CSS.escape(e.id) + '"]');
      if (tr) {
        if (only && e.status !== only) { tr.remove(); return; }
        badge(tr.querySelector(".badge"), e.status);
        return;
      }
      if (paged || !fits(e) || (only && e.status !== only) || (e.status !== "queued" && e.status !== "rejected" && !only)) return;
      var empty = body.querySelector("tr.empty");
      if (empty) empty.remove();
      body.insertBefore(row(e), body.firstChild);
    });
  }

  // An invocation's page follows it alone: its first event is where it
  // stands now, and the final status brings the stored log.
  var one = document.querySelector("[data-live-invocation]");
  if (one) {
    var id = one.getAttribute("data-live-invocation");
    var shown = one.getAttribute("data-status");
    var pre = document.querySelector("[data-live-logs]");
    var attempt = 0;
    open("?invocation=" + encodeURIComponent(id), function (e) {
      if (e.id === id && e.status !== shown) location.reload();
    }, pre && function (e) {
      if (e.id !== id) return;
      var none = pre.querySelector(".muted");
      if (none) none.remove();
      var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 2;
      if (attempt && e.attempt !== attempt) logLine(pre, "orc", "attempt " + e.attempt);
      attempt = e.attempt;
      if (e.skipped) logLine(pre, "orc", e.skipped + (e.skipped === 1 ? " line" : " lines") + " not shown while it runs");
      (e.lines || []).forEach(function (l) { logLine(pre, l.stream, l.line); });
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    });
  }
})();
