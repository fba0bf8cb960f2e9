// Class statistics: each figure[data-chart] is drawn from the table it holds, so the
// chart and the screen-reader table can never disagree. No inline script (CSP).
(function () {
  "use strict";
  var COLORS = ["#1d4ed8", "#b45309", "#0f766e", "#be123c", "#6d28d9", "#4a4f57"];

  function readTable(table) {
    var series = Array.prototype.slice.call(table.tHead.rows[0].cells, 1).map(function (th) {
      return th.textContent.trim();
    });
    var labels = [];
    var values = series.map(function () { return []; });
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      labels.push(row.cells[0].textContent.trim());
      for (var i = 0; i < series.length; i++) {
        var raw = row.cells[i + 1] ? row.cells[i + 1].getAttribute("data-value") : "";
        values[i].push(raw === "" || raw === null ? null : Number(raw));
      }
    });
    return { series: series, labels: labels, values: values };
  }

  function draw(figure) {
    var table = figure.querySelector("table.chart-data");
    if (!table || !window.Chart) { return; }
    var data = readTable(table);
    if (!data.labels.length) { return; }
    var horizontal = figure.getAttribute("data-chart") === "hbar";
    var percent = figure.hasAttribute("data-percent");
    var stacked = figure.hasAttribute("data-stacked") || (horizontal && data.series.length > 1);
    var box = figure.querySelector(".chart-box");
    box.hidden = false;
    if (horizontal) {  // one bar per row: grow with the rows so labels stay readable
      box.style.height = Math.max(160, 28 * data.labels.length + 70) + "px";
    }
    var valueAxis = {
      beginAtZero: true,
      stacked: stacked,
      max: percent ? 1 : undefined,
      ticks: percent ? { callback: function (v) { return Math.round(v * 100) + "%"; } }
                     : { precision: 0 },
    };
    var labelAxis = { stacked: stacked, ticks: { autoSkip: false } };
    new window.Chart(box.querySelector("canvas"), {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.series.map(function (name, i) {
          return { label: name, data: data.values[i], backgroundColor: COLORS[i % COLORS.length] };
        }),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        indexAxis: horizontal ? "y" : "x",
        plugins: {
          legend: { display: data.series.length > 1 },
          tooltip: {
            callbacks: percent ? {
              label: function (item) {
                return item.dataset.label + ": " + Math.round(item.raw * 100) + "%";
              },
            } : {},
          },
        },
        scales: horizontal ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis },
      },
    });
  }

  document.querySelectorAll("figure.stats-chart").forEach(draw);
})();
