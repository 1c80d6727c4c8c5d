/* The SPARQL query page: a small editor (line numbers, Tab indents, Ctrl/⌘+Enter runs),
   example queries, and results fetched as SPARQL JSON and shown as a table.
   No library and no CDN; without script the form still works (the server renders the table). */
(function () {
  "use strict";
  var root = document.querySelector(".sparql");
  if (!root) return;
  var form = root.querySelector(".sparql-form");
  var text = root.querySelector("#sparql-query");
  var lines = root.querySelector(".sparql-lines");
  var example = root.querySelector("#sparql-example");
  var format = root.querySelector("#sparql-format");
  var download = root.querySelector(".sparql-download");
  var results = root.querySelector(".sparql-results");
  var base = root.getAttribute("data-base") || "";
  var msg = JSON.parse(document.getElementById("sparql-messages").textContent);
  var trapTab = true;

  function renumber() {
    var n = text.value.split("\n").length;
    var out = [];
    for (var i = 1; i <= n; i++) out.push(i);
    lines.textContent = out.join("\n");
    lines.scrollTop = text.scrollTop;
  }

  function queryUrl(fmt, extra) {
    var params = new URLSearchParams({ query: text.value, format: fmt });
    if (extra) params.set(extra, "1");
    return "/sparql?" + params.toString();
  }

  function updateDownload() {
    var fmt = format.value === "html" ? "csv" : format.value;
    download.href = queryUrl(fmt, "download");
    download.hidden = !text.value.trim();
  }

  function indent(outdent) {
    var v = text.value, s = text.selectionStart, e = text.selectionEnd;
    var lineStart = v.lastIndexOf("\n", s - 1) + 1;
    if (s === e && !outdent) {
      text.setRangeText("  ", s, e, "end");
    } else {
      var block = v.slice(lineStart, e);
      var changed = outdent ? block.replace(/^ {1,2}/gm, "") : block.replace(/^/gm, "  ");
      text.setRangeText(changed, lineStart, e, "select");
    }
    renumber();
    updateDownload();
  }

  text.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      run();
    } else if (ev.key === "Escape") {
      trapTab = false; // the next Tab moves focus on, as keyboard users expect
    } else if (ev.key === "Tab" && trapTab) {
      ev.preventDefault();
      indent(ev.shiftKey);
    } else {
      trapTab = true;
    }
  });
  text.addEventListener("focus", function () { trapTab = true; });
  text.addEventListener("input", function () { renumber(); updateDownload(); });
  text.addEventListener("scroll", function () { lines.scrollTop = text.scrollTop; });
  format.addEventListener("change", updateDownload);

  example.addEventListener("change", function () {
    var tpl = document.getElementById("example-" + example.value);
    if (!tpl) return;
    text.value = tpl.content ? tpl.content.textContent : tpl.textContent;
    renumber();
    updateDownload();
    text.focus();
  });

  form.addEventListener("submit", function (ev) {
    if (format.value !== "html") return; // other formats: the browser opens the raw answer
    ev.preventDefault();
    run();
  });

  function status(node) {
    var p = results.querySelector(".sparql-status");
    p.textContent = "";
    if (typeof node === "string") p.textContent = node; else p.appendChild(node);
  }

  function clear() {
    var old = results.querySelectorAll(".sparql-table-wrap, .sparql-graph");
    for (var i = 0; i < old.length; i++) old[i].remove();
  }

  function cell(term) {
    var td = document.createElement("td");
    if (!term) return td;
    if (term.type === "uri") {
      var a = document.createElement("a");
      a.href = term.value;
      a.textContent = term.value.indexOf(base + "/") === 0 ? term.value.slice(base.length) : term.value;
      a.title = term.value;
      td.appendChild(a);
    } else if (term.type === "triple") {
      td.textContent = "<< " + [term.value.subject, term.value.predicate, term.value.object]
        .map(function (t) { return t.value; }).join(" ") + " >>";
    } else {
      td.textContent = term.type === "bnode" ? "_:" + term.value : term.value;
      if (term["xml:lang"]) {
        var small = document.createElement("small");
        small.className = "lang";
        small.textContent = " @" + term["xml:lang"];
        td.appendChild(small);
      } else if (term.datatype) {
        td.title = term.datatype;
      }
    }
    return td;
  }

  function table(data) {
    var wrap = document.createElement("div");
    wrap.className = "sparql-table-wrap";
    var t = document.createElement("table");
    t.className = "sparql-table";
    var head = t.createTHead().insertRow();
    data.head.vars.forEach(function (v) {
      var th = document.createElement("th");
      th.scope = "col";
      th.textContent = "?" + v;
      head.appendChild(th);
    });
    var body = t.createTBody();
    data.results.bindings.forEach(function (b) {
      var tr = body.insertRow();
      data.head.vars.forEach(function (v) { tr.appendChild(cell(b[v])); });
    });
    wrap.appendChild(t);
    return wrap;
  }

  function run() {
    if (format.value !== "html") {
      window.location.href = queryUrl(format.value);
      return;
    }
    var started = performance.now();
    clear();
    status(msg.running);
    var body = new URLSearchParams({ query: text.value });
    fetch("/sparql", {
      method: "POST",
      headers: { "Accept": "application/sparql-results+json, text/turtle;q=0.9",
                 "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString()
    }).then(function (resp) {
      var took = ((performance.now() - started) / 1000).toFixed(2) + " " + msg.seconds;
      var type = resp.headers.get("Content-Type") || "";
      return resp.text().then(function (payload) {
        if (!resp.ok) {
          var err = document.createElement("span");
          err.className = "sparql-error";
          err.setAttribute("role", "alert");
          err.textContent = msg.failed + " (" + resp.status + "): " + payload;
          status(err);
          return;
        }
        if (type.indexOf("application/sparql-results+json") === 0) {
          var data = JSON.parse(payload);
          if (typeof data.boolean === "boolean") {
            status(msg.answer + data.boolean + " · " + took);
          } else {
            status(data.results.bindings.length + " " + msg.rows + " · " + took);
            results.appendChild(table(data));
          }
        } else {
          status(took);
          var pre = document.createElement("pre");
          pre.className = "sparql-graph";
          pre.textContent = payload;
          results.appendChild(pre);
        }
        updateDownload();
      });
    }).catch(function () { status(msg.network); });
  }

  renumber();
  updateDownload();
  if (results.querySelector(".sparql-status").textContent.trim() === "" &&
      new URLSearchParams(window.location.search).get("query")) {
    run();
  }
})();
