/* A growth record's timeline (services/growth/pages.py, templates/growth/record.html).
 *
 * Draws the entries of the JSON block #growth-data with vis-timeline (peer build, from
 * /staff/static/vendor/), one group per strand; makes the strand checkboxes filter the
 * timeline and the plain list below it at once (without JavaScript they are a GET form).
 * Every text goes in with textContent: nothing from the record is ever parsed as HTML. */
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", fn);
    } else {
      fn();
    }
  }

  function itemContent(item) {
    var box = document.createElement("span");
    box.className = "growth-item";
    if (item.image) {
      var img = document.createElement("img");
      img.src = item.image;
      img.alt = "";
      img.className = "growth-item-thumb";
      box.appendChild(img);
    }
    var title = document.createElement("span");
    title.textContent = item.title;
    box.appendChild(title);
    return box;
  }

  function groupContent(label) {
    var span = document.createElement("span");
    span.textContent = label;
    return span;
  }

  ready(function () {
    var holder = document.getElementById("growth-timeline");
    var block = document.getElementById("growth-data");
    var form = document.getElementById("growth-filter");
    if (!holder || !block) {
      return;
    }
    var data = JSON.parse(block.textContent);
    var hidden = {};
    (data.hidden || []).forEach(function (code) { hidden[code] = true; });

    // the checkboxes filter the list at once (and the timeline, when it is drawn)
    var timeline = null;
    var groups = null;
    function applyFilter(code, shown) {
      hidden[code] = !shown;
      document.querySelectorAll('.growth-strand[data-strand="' + code + '"]')
        .forEach(function (section) { section.hidden = !shown; });
      if (groups && groups.get(code)) {
        groups.update({ id: code, visible: shown });
      }
    }
    if (form) {
      var apply = form.querySelector(".growth-apply");
      form.querySelectorAll('input[name="strand"]').forEach(function (box) {
        box.addEventListener("change", function () { applyFilter(box.value, box.checked); });
      });
      // every entry is on the page (the strands not chosen hidden): filtering is live
      if (apply) {
        apply.hidden = true;
      }
    }

    if (!window.vis || !window.vis.Timeline || !window.vis.DataSet) {
      holder.hidden = true;  // the list is the record
      return;
    }
    if (!data.items.length) {
      holder.hidden = true;
      return;
    }
    var locale = data.lang === "zh" ? "zh-cn" : "en";
    if (window.moment && window.moment.locale) {
      window.moment.locale(locale);
    }
    groups = new vis.DataSet(data.groups.map(function (g) {
      return { id: g.id, content: groupContent(g.label), className: "strand-" + g.id,
               visible: !hidden[g.id] };
    }));
    var byId = {};
    var items = new vis.DataSet(data.items.map(function (item) {
      byId[item.id] = item;
      var out = { id: item.id, group: item.group, start: item.start,
                  content: itemContent(item), className: "strand-" + item.group,
                  type: item.end ? "range" : "box" };
      if (item.end) {
        out.end = item.end;
      }
      return out;
    }));
    var locales = {};
    locales[locale] = { current: data.words.current, time: data.words.time,
                        deleteSelected: "" };
    timeline = new vis.Timeline(holder, items, groups, {
      locale: locale,
      locales: locales,
      orientation: "top",
      stack: true,
      zoomKey: "ctrlKey",
      margin: { item: 6 },
      maxHeight: 520,
      showCurrentTime: false
    });
    holder.setAttribute("data-ready", "true");
    timeline.on("select", function (props) {
      var item = props.items.length ? byId[props.items[0]] : null;
      if (item && item.url) {
        window.location.assign(item.url);
      }
    });
  });
}());
