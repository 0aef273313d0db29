// Interactive charts, sortable tables and CSV downloads; nothing here loads from the network.
document.querySelectorAll("script.chart-spec").forEach(function (node) {
  var spec = JSON.parse(node.textContent);
  Plotly.newPlot(node.previousElementSibling, spec.data, spec.layout,
                 {displaylogo: false, responsive: true, showLink: false, showSendToCloud: false,
                  showEditInChartStudio: false});
});

function sortKey(cell) {
  var text = cell.textContent.trim().replace("\u2212", "-");
  if (text.charAt(0) === "<") { return -Infinity; }
  var number = text.match(/^[+-]?\d+(\.\d+)?/);
  return number ? parseFloat(number[0]) : text.toLowerCase();
}

document.querySelectorAll("table.sortable th[scope=col]").forEach(function (th) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0];
    var column = th.cellIndex;
    var order = th.dataset.order === "ascending" ? "descending" : "ascending";
    var sign = order === "ascending" ? 1 : -1;
    th.closest("tr").querySelectorAll("th").forEach(function (other) { delete other.dataset.order; });
    th.dataset.order = order;
    Array.from(body.rows).sort(function (a, b) {
      var x = sortKey(a.cells[column]), y = sortKey(b.cells[column]);
      if (typeof x !== typeof y) { x = String(x); y = String(y); }
      return x < y ? -sign : x > y ? sign : 0;
    }).forEach(function (row) { body.appendChild(row); });
  });
});

document.querySelectorAll("button.csv").forEach(function (button) {
  button.addEventListener("click", function () {
    var table = button.previousElementSibling.querySelector("table");
    var lines = Array.from(table.rows).map(function (row) {
      return Array.from(row.cells).map(function (cell) {
        return '"' + cell.textContent.trim().replace(/"/g, '""') + '"';
      }).join(",");
    });
    var link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], {type: "text/csv"}));
    link.download = button.dataset.name + ".csv";
    link.click();
  });
});
