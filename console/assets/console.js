// Orc console: small progressive touches. Every page works without it.
"use strict";
(function () {
  // Form or JSON: show the pane of the chosen mode.
  function panes(form) {
    var chosen = form.querySelector("input[name=mode]:checked");
    if (!chosen) return;
    form.querySelectorAll("[data-pane]").forEach(function (p) {
      p.hidden = p.getAttribute("data-pane") !== chosen.value;
    });
  }
  document.querySelectorAll("[data-tabs]").forEach(function (tabs) {
    var form = tabs.closest("form");
    tabs.addEventListener("change", function () { panes(form); });
    panes(form);
  });
  // A select that shows what it selects at once.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
  // Copy buttons.
  document.querySelectorAll("[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var text = document.getElementById(b.getAttribute("data-copy")).textContent;
      navigator.clipboard.writeText(text).then(function () {
        b.textContent = "Copied";
        setTimeout(function () { b.textContent = "Copy"; }, 1500);
      });
    });
  });
})();
