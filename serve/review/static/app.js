// Keyboard shortcuts for the review pages. No framework; the pages work without this file.
(function () {
  "use strict";
  function typing(ev) {
    var t = ev.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }
  function go(id) { var a = document.getElementById(id); if (a) { window.location.href = a.href; } }
  function click(id) { var b = document.getElementById(id); if (b) { b.click(); } }

  function queueKeys() {
    var rows = Array.prototype.slice.call(document.querySelectorAll("#queue-table tbody tr"));
    var sel = -1;
    function select(i) {
      if (!rows.length) { return; }
      sel = Math.max(0, Math.min(rows.length - 1, i));
      rows.forEach(function (r, k) { r.classList.toggle("sel", k === sel); });
      rows[sel].scrollIntoView({ block: "nearest" });
    }
    rows.forEach(function (r) {
      r.addEventListener("click", function (ev) { if (ev.target.tagName !== "A") { window.location.href = r.dataset.href; } });
    });
    document.addEventListener("keydown", function (ev) {
      if (typing(ev) || ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
      if (ev.key === "j") { select(sel + 1); }
      else if (ev.key === "k") { select(sel - 1); }
      else if ((ev.key === "o" || ev.key === "Enter") && sel >= 0) { window.location.href = rows[sel].dataset.href; }
    });
  }

  function itemKeys() {
    document.addEventListener("keydown", function (ev) {
      if (typing(ev) || ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
      if (ev.key === "c") { click("btn-confirm"); }
      else if (ev.key === "n") { click("btn-not"); }
      else if (ev.key === "e") {
        // Escalating needs a reviewer and a note: submit when both are there, else point at them.
        var to = document.getElementById("escalate-to"), note = document.getElementById("note");
        if (to && to.value && note && note.value.trim()) { click("btn-escalate"); }
        else if (to && !to.value) { to.focus(); }
        else if (note) { note.focus(); }
        ev.preventDefault();
      }
      else if (ev.key === "j") { go("next-link"); }
      else if (ev.key === "k") { go("prev-link"); }
      else if (ev.key === "q") { window.location.href = "/queue"; }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var page = document.body.dataset.page;
    if (page === "queue") { queueKeys(); }
    if (page === "item") { itemKeys(); }
  });
})();
