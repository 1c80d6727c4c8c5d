// The content tree of the folder view: a twisty button opens or closes a branch (htmx loads
// the branch the first time, hx-trigger="click once"); without JavaScript the twisties are
// hidden and every container is a plain link to its folder view.
// Also: the folder view's "select all on this page" box.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  // "select all on this page": ticks or unticks the rows' boxes (a bulk action's selection)
  document.addEventListener("change", function (event) {
    if (event.target.id !== "sel-all") {
      return;
    }
    document.querySelectorAll('input[name="sel"]').forEach(function (box) {
      box.checked = event.target.checked;
    });
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.twisty") : null;
    if (!button) {
      return;
    }
    var branch = document.getElementById(button.getAttribute("aria-controls"));
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    if (branch) {
      branch.hidden = !open;
    }
  });
})();
