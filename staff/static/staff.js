// The staff workspace's own script: small, no build step, no inline script needed.
// - every htmx request carries the session's CSRF token (from <meta name="csrf-token">);
// - a form or button with data-confirm asks once before it is sent.
(function () {
  "use strict";
  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrf();
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    var question = (button && button.dataset.confirm) || form.dataset.confirm;
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);
  window.lantaiStaff = { csrf: csrf };
})();
