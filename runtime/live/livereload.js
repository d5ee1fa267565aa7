// hwebserver live reload (debug mode only). The server adds this script to
// every HTML page. It reloads the page once a new version of the script
// serves, and shows the error of a failed reload in an overlay; the last
// good version keeps serving meanwhile.
(function () {
  "use strict";
  // One client per page, also when HTML fragments that carry the tag are
  // inserted into the page later (htmx, fetch + innerHTML).
  if (window.__hwebserverLiveReload) return;
  window.__hwebserverLiveReload = true;
  var me = document.currentScript;
  var version = (me && me.getAttribute("data-version")) || "";
  var overlayId = "__hwebserver_overlay";

  function hide() {
    var el = document.getElementById(overlayId);
    if (el) el.remove();
  }

  function show(message, detail) {
    hide();
    var el = document.createElement("div");
    el.id = overlayId;
    el.setAttribute("role", "alert");
    el.style.cssText = "position:fixed;inset:0;z-index:2147483647;overflow:auto;" +
      "background:rgba(24,24,27,.94);color:#fafafa;padding:24px 32px;" +
      "font:14px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;";
    var title = document.createElement("div");
    title.textContent = "hwebserver: reload failed \u2014 the last good version keeps serving";
    title.style.cssText = "color:#f87171;font-weight:bold;margin-bottom:12px;";
    var pre = document.createElement("pre");
    pre.className = "message";
    pre.textContent = message + (detail ? "\n\n" + detail : "");
    pre.style.cssText = "white-space:pre-wrap;margin:0 0 16px;";
    var close = document.createElement("button");
    close.type = "button";
    close.textContent = "Dismiss";
    close.onclick = hide;
    el.appendChild(title);
    el.appendChild(pre);
    el.appendChild(close);
    (document.body || document.documentElement).appendChild(el);
  }

  var events = new EventSource("/__hwebserver/events?v=" + encodeURIComponent(version));
  events.addEventListener("reload", function () {
    events.close();
    location.reload();
  });
  events.addEventListener("error", function (e) {
    // Without data this is the connection failing: EventSource retries.
    if (typeof e.data !== "string") return;
    var d = JSON.parse(e.data);
    show(d.message, d.detail);
  });
  events.addEventListener("ok", hide);
})();
