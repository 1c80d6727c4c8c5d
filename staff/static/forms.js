// The add and edit forms: "Add another" makes a new empty row in place (without script the
// button asks the server for the form with one more row, which works the same).
(function () {
  "use strict";
  var counter = 0;
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.add-row");
    if (!button) { return; }
    var key = button.dataset.rowKey;
    var holder = null;
    document.querySelectorAll("[data-rows]").forEach(function (el) {
      if (el.dataset.rows === key) { holder = el; }
    });
    var rows = holder ? holder.querySelectorAll(".row") : [];
    if (!rows.length) { return; }
    event.preventDefault();
    var copy = rows[rows.length - 1].cloneNode(true);
    counter += 1;
    copy.querySelectorAll("[id]").forEach(function (el) {
      var old = el.id;
      el.id = old + "-n" + counter;
      copy.querySelectorAll('[for="' + old + '"]').forEach(function (l) { l.htmlFor = el.id; });
      copy.querySelectorAll('[list="' + old + '"]').forEach(function (i) { i.setAttribute("list", el.id); });
    });
    copy.querySelectorAll("input, textarea").forEach(function (el) { el.value = ""; });
    copy.querySelectorAll("select").forEach(function (el) { el.selectedIndex = 0; });
    copy.querySelectorAll("output, datalist, .linked-title").forEach(function (el) { el.textContent = ""; });
    rows[rows.length - 1].after(copy);
    if (window.htmx) { window.htmx.process(copy); }
    var first = copy.querySelector("input, select, textarea");
    if (first) { first.focus(); }
  });
  // the error summary takes the focus, so a screen reader hears what to fix
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.getElementById("form-errors");
    if (summary) { summary.focus(); }
  });
})();
