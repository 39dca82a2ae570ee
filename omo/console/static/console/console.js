/* omo HQ console: small enhancements; every page works without this script. */
(function () {
  "use strict";

  // "Copy" buttons: <button data-copy="text" data-copied-label="已複製">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var text = button.getAttribute("data-copy");
    var done = function () {
      var note = document.createElement("span");
      note.className = "copied";
      note.setAttribute("role", "status");
      note.textContent = button.getAttribute("data-copied-label") || "✓";
      button.after(note);
      setTimeout(function () { note.remove(); }, 1800);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      // Plain-HTTP deployments (one machine on a LAN) have no Clipboard API.
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
      done();
    }
  });

  // Chart tooltips: pygal leaves each value in a <desc class="value"> beside its shape; pygal's own
  // tooltip script comes from a CDN, so we show the value ourselves.
  document.querySelectorAll(".chart").forEach(function (chart) {
    var tip = document.createElement("div");
    tip.className = "chart-tooltip";
    chart.appendChild(tip);
    chart.addEventListener("mouseover", function (event) {
      var shape = event.target.closest(".tooltip-trigger");
      if (!shape) return;
      var group = shape.parentNode;
      var value = group.querySelector("desc.value");
      var label = group.querySelector("desc.x_label");
      var serie = group.closest(".series");
      var legend = "";
      if (serie) {
        var index = (serie.getAttribute("class").match(/serie-(\d+)/) || [])[1];
        var entry = chart.querySelector("#activate-serie-" + index + " text");
        if (entry && chart.querySelectorAll(".legends .legend").length > 1) legend = entry.textContent + " · ";
      }
      tip.textContent = (label ? label.textContent + " · " : "") + legend + (value ? value.textContent : "");
      var box = shape.getBoundingClientRect();
      var outer = chart.getBoundingClientRect();
      tip.style.left = box.left - outer.left + box.width / 2 + "px";
      tip.style.top = box.top - outer.top + "px";
      tip.classList.add("shown");
    });
    chart.addEventListener("mouseleave", function () { tip.classList.remove("shown"); });
  });
})();
