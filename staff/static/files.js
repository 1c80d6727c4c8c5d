// Uploads with a progress bar per file (staff/files.py; the form works without this script).
// Each file is staged on the server first: one part up to 100 MB, 8 MB parts above; after a
// dropped connection the script asks how much arrived and goes on from there. A file and its
// companions (a recording's NAME.LANG.vtt and NAME.json) are then ingested together, as
// `lantai ingest media` would; the list of files is refreshed at the end.
(function () {
  "use strict";
  var WHOLE = 100 * 1024 * 1024;
  var PART = 8 * 1024 * 1024;
  var RETRIES = 5;

  function csrf() { return window.lantaiStaff ? window.lantaiStaff.csrf() : ""; }

  function stem(name) {
    var m = name.match(/^(.+)\.[a-z]{2,3}\.vtt$/i);
    if (m) { return m[1]; }
    var i = name.lastIndexOf(".");
    return i > 0 ? name.slice(0, i) : name;
  }

  function companion(name) { return /\.(vtt|json)$/i.test(name); }

  function request(method, url, body, headers, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("X-CSRF-Token", csrf());
      Object.keys(headers || {}).forEach(function (k) { xhr.setRequestHeader(k, headers[k]); });
      if (onProgress && xhr.upload) {
        xhr.upload.addEventListener("progress", function (e) { onProgress(e.loaded); });
      }
      xhr.onload = function () {
        var data = null;
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
        resolve({ status: xhr.status, data: data || {} });
      };
      xhr.onerror = function () { reject(new Error("network")); };
      xhr.send(body);
    });
  }

  function form(fields) {
    var data = new URLSearchParams();
    fields.forEach(function (pair) { data.append(pair[0], pair[1]); });
    return data;
  }

  function Row(list, file) {
    this.li = document.createElement("li");
    var label = document.createElement("span");
    label.textContent = file.name + " ";
    this.bar = document.createElement("progress");
    this.bar.max = file.size || 1;
    this.bar.value = 0;
    this.bar.setAttribute("aria-label", file.name);
    this.text = document.createElement("span");
    this.text.className = "muted";
    this.li.appendChild(label);
    this.li.appendChild(this.bar);
    this.li.appendChild(this.text);
    list.appendChild(this.li);
  }
  Row.prototype.say = function (text, kind) {
    this.text.textContent = " " + text;
    this.text.className = kind || "muted";
    if (kind === "error") { this.text.setAttribute("role", "alert"); }
  };

  function send(formEl, upload, file, row) {
    var tries = 0;
    // data-whole / data-part on the form override the sizes (the browser test uses small ones)
    var whole = Number(formEl.dataset.whole) || WHOLE;
    var part = Number(formEl.dataset.part) || PART;
    function from(offset) {
      if (offset >= file.size) { return Promise.resolve(); }
      var end = file.size <= whole ? file.size : Math.min(file.size, offset + part);
      return request("PUT", upload.url, file.slice(offset, end),
                     { "Upload-Offset": String(offset), "Content-Type": "application/octet-stream" },
                     function (loaded) { row.bar.value = offset + loaded; })
        .then(function (answer) {
          if (answer.status === 200) { tries = 0; return from(answer.data.received); }
          if (answer.status === 409 || answer.status >= 500) { return resume(answer); }
          throw new Error(answer.data.error || ("HTTP " + answer.status));
        }, function () { return resume(null); });
    }
    function resume(answer) {
      tries += 1;
      if (tries > RETRIES) {
        throw new Error((answer && answer.data.error) || "the connection was lost");
      }
      row.say("…");
      return new Promise(function (r) { setTimeout(r, 1000 * tries); })
        .then(function () { return request("GET", upload.url); })
        .then(function (state) {
          if (state.status !== 200) { throw new Error(state.data.error || "the upload is gone"); }
          return from(state.data.received);  // how much arrived: go on from there
        });
    }
    return from(0);
  }

  function uploadOne(formEl, file, row) {
    row.say(formEl.dataset.sending || "");
    return request("POST", formEl.dataset.begin,
                   form([["path", formEl.dataset.path], ["name", file.name],
                         ["size", String(file.size)]]))
      .then(function (answer) {
        if (answer.status !== 201) { throw new Error(answer.data.error || ("HTTP " + answer.status)); }
        var upload = answer.data;
        upload.url = formEl.dataset.begin + "/" + encodeURIComponent(upload.id);
        return send(formEl, upload, file, row).then(function () {
          row.bar.value = row.bar.max;
          row.say(formEl.dataset.arrived || "");
          return upload;
        });
      });
  }

  function ingest(formEl, group) {
    var pairs = group.map(function (g) { return ["upload", g.upload.id]; });
    group.forEach(function (g) { g.row.say(formEl.dataset.processing || "…"); });
    return request("POST", formEl.dataset.ingest, form(pairs)).then(function (answer) {
      if (answer.status !== 200) { throw new Error(answer.data.error || ("HTTP " + answer.status)); }
      group.forEach(function (g) { g.row.say(formEl.dataset.done || "✓", "ok"); });
    });
  }

  function refresh() {
    return fetch(window.location.href, { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("files-section");
        var here = document.getElementById("files-section");
        if (fresh && here) { here.replaceWith(fresh); }
      });
  }

  function start(formEl, files) {
    var list = formEl.querySelector(".upload-list");
    list.textContent = "";
    var groups = {};
    var order = [];
    files.forEach(function (file) {
      var key = stem(file.name);
      if (!groups[key]) { groups[key] = []; order.push(key); }
      groups[key].push({ file: file, row: new Row(list, file) });
    });
    // companions without a recording of their stem are still sent: the server says why not
    var chain = Promise.resolve();
    order.forEach(function (key) {
      var group = groups[key].sort(function (a, b) {
        return companion(a.file.name) - companion(b.file.name);
      });
      chain = chain.then(function () {
        return group.reduce(function (p, g) {
          return p.then(function () {
            return uploadOne(formEl, g.file, g.row).then(function (u) { g.upload = u; });
          });
        }, Promise.resolve())
          .then(function () { return ingest(formEl, group); })
          .catch(function (err) {
            group.forEach(function (g) {
              if (g.upload) {  // staged but not ingested: let it go
                request("DELETE", g.upload.url);
              }
              g.row.say(err.message, "error");
            });
          });
      });
    });
    return chain.then(refresh);
  }

  // A form of class progress-form (the import page): sent with a progress bar; the page
  // that answers replaces this one's main part (its result or its one-line error).
  function sendWithProgress(formEl) {
    var bar = formEl.querySelector(".upload-progress");
    var button = formEl.querySelector('button[type="submit"]');
    var xhr = new XMLHttpRequest();
    xhr.open("POST", formEl.action);
    xhr.setRequestHeader("X-CSRF-Token", csrf());
    if (bar) { bar.hidden = false; bar.value = 0; }
    xhr.upload.addEventListener("progress", function (e) {
      if (bar && e.lengthComputable) { bar.max = e.total; bar.value = e.loaded; }
    });
    xhr.onload = function () {
      var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var fresh = doc.getElementById("main");
      var here = document.getElementById("main");
      if (fresh && here) {
        here.replaceWith(fresh);
        fresh.focus();
      }
    };
    xhr.onerror = function () {
      button.disabled = false;
      if (bar) { bar.hidden = true; }
      window.alert("The connection was lost; nothing was imported.");
    };
    button.disabled = true;
    xhr.send(new FormData(formEl));
  }

  document.addEventListener("submit", function (event) {
    var formEl = event.target;
    if (formEl.classList && formEl.classList.contains("progress-form")
        && window.XMLHttpRequest && window.FormData && window.DOMParser) {
      event.preventDefault();
      sendWithProgress(formEl);
      return;
    }
    if (!formEl.classList || !formEl.classList.contains("upload-form")) { return; }
    if (!window.XMLHttpRequest || !window.Promise || !window.fetch) { return; }  // plain form
    var input = formEl.querySelector('input[type="file"]');
    var files = Array.prototype.slice.call(input.files || []);
    if (!files.length) { return; }
    event.preventDefault();
    var button = formEl.querySelector('button[type="submit"]');
    button.disabled = true;
    start(formEl, files).then(function () {
      button.disabled = false;
      input.value = "";
    });
  });
})();
