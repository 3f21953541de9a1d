// aim Atlas — the only script: map tooltips (hover, tap, keyboard focus), automatic
// submission of the selectors, sortable tables, instant filter of the indicator list.
// Hand-written, no library; every page also works without it.
(function () {
  "use strict";

  function fold(s) {
    return (s || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  // ---- Map tooltip -------------------------------------------------------------------
  function setupMap(svg) {
    var tip = document.getElementById("tooltip");
    if (!tip) return;
    var ciLabel = tip.getAttribute("data-ci-label") || "";
    var moreLabel = tip.getAttribute("data-more-label") || "";
    var active = null;
    var pinned = false;

    function fill(area, withLink) {
      tip.textContent = "";
      var name = document.createElement("div");
      name.className = "tt-name";
      name.textContent = area.getAttribute("data-name");
      var value = document.createElement("div");
      value.className = "tt-value";
      value.textContent = area.getAttribute("data-value");
      tip.appendChild(name);
      tip.appendChild(value);
      var ci = area.getAttribute("data-ci");
      if (ci) {
        var c = document.createElement("div");
        c.className = "tt-ci";
        c.textContent = ciLabel + " " + ci;
        tip.appendChild(c);
      }
      var link = area.parentNode && area.parentNode.getAttribute("href");
      if (withLink && link) {
        var a = document.createElement("a");
        a.href = link;
        a.textContent = moreLabel;
        tip.appendChild(a);
      }
    }

    function place(x, y) {
      tip.hidden = false;
      var w = tip.offsetWidth, h = tip.offsetHeight;
      var vw = window.innerWidth, vh = window.innerHeight;
      var left = x + 14, top = y + 14;
      if (left + w > vw - 4) left = Math.max(4, x - w - 14);
      if (top + h > vh - 4) top = Math.max(4, y - h - 14);
      tip.style.left = left + "px";
      tip.style.top = top + "px";
    }

    function centre(area) {
      var r = area.getBoundingClientRect();
      return [r.left + r.width / 2, r.top + r.height / 2];
    }

    function activate(area) {
      if (active && active !== area) active.classList.remove("active");
      active = area;
      area.classList.add("active");
    }

    function hide() {
      tip.hidden = true;
      pinned = false;
      if (active) active.classList.remove("active");
      active = null;
    }

    function areaOf(target) {
      return target && target.closest ? target.closest(".area") : null;
    }

    svg.addEventListener("mousemove", function (e) {
      if (pinned) return;
      var area = areaOf(e.target);
      if (!area) return;
      if (area !== active) {
        activate(area);
        fill(area, false);
      }
      place(e.clientX, e.clientY);
    });
    svg.addEventListener("mouseleave", function () {
      if (!pinned) hide();
    });
    svg.addEventListener("click", function (e) {
      var area = areaOf(e.target);
      if (!area) return;
      // Keyboard activation (Enter) follows the link; a pointer click or a tap shows the
      // value first, a second one on the same area follows the link.
      if (e.detail === 0) return;
      if (pinned && active === area) return;
      e.preventDefault();
      activate(area);
      fill(area, true);
      pinned = true;
      place(e.clientX || centre(area)[0], e.clientY || centre(area)[1]);
    });
    svg.addEventListener("focusin", function (e) {
      var area = e.target.querySelector ? e.target.querySelector(".area") : null;
      if (!area) return;
      activate(area);
      fill(area, false);
      var c = centre(area);
      place(c[0], c[1]);
    });
    svg.addEventListener("focusout", function () {
      if (!pinned) hide();
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape") hide();
    });
    document.addEventListener("click", function (e) {
      if (pinned && !svg.contains(e.target) && !tip.contains(e.target)) hide();
    });
    window.addEventListener("scroll", function () {
      if (!pinned) hide();
    }, { passive: true });
  }

  // ---- Selectors: submit on change ---------------------------------------------------
  function setupSelectors(form) {
    form.addEventListener("change", function (e) {
      if (e.target && e.target.tagName === "SELECT") form.submit();
    });
  }

  // ---- Sortable tables ---------------------------------------------------------------
  function setupSortable(table) {
    var heads = table.querySelectorAll("thead th");
    table.querySelectorAll("thead th button[data-col]").forEach(function (btn) {
      var th = btn.parentNode;
      btn.setAttribute("aria-sort", "none");
      btn.addEventListener("click", function () {
        var col = parseInt(btn.getAttribute("data-col"), 10);
        var asc = th.getAttribute("aria-sort") !== "ascending";
        heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows).filter(function (r) {
          return !r.classList.contains("pinned");
        });
        function key(r) {
          var cell = r.cells[col];
          if (!cell) return null;
          var v = cell.getAttribute("data-sort");
          if (v === null) v = cell.textContent;
          if (v === "") return null;
          var n = Number(v);
          return isNaN(n) ? fold(v) : n;
        }
        rows.sort(function (a, b) {
          var x = key(a), y = key(b);
          if (x === null && y === null) return 0;
          if (x === null) return 1;
          if (y === null) return -1;
          var c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }

  // ---- Instant filter of the indicator list ------------------------------------------
  function setupFilter(input) {
    var count = document.getElementById("count");
    function run() {
      var words = fold(input.value).split(/\s+/).filter(Boolean);
      var shown = 0;
      document.querySelectorAll("section.theme").forEach(function (sec) {
        var any = false;
        sec.querySelectorAll("li[data-search]").forEach(function (li) {
          var hay = li.getAttribute("data-search");
          var ok = words.every(function (w) { return hay.indexOf(w) >= 0; });
          li.hidden = !ok;
          if (ok) { any = true; shown++; }
        });
        sec.hidden = !any;
      });
      if (count) {
        count.textContent = shown === 0 ? count.getAttribute("data-none") : shown + " " + (count.getAttribute("data-label") || "");
      }
    }
    input.addEventListener("input", run);
  }

  function init() {
    document.querySelectorAll("svg.map").forEach(setupMap);
    document.querySelectorAll("form.selectors").forEach(setupSelectors);
    document.querySelectorAll("table.sortable").forEach(setupSortable);
    document.querySelectorAll("input[data-filter]").forEach(setupFilter);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
