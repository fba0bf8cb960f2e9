// Grading by hand with the keyboard: j / k move to the next / previous answer (its points
// field), Ctrl+Enter (Cmd+Enter) saves and opens the next submission waiting. Keys typed
// into a comment stay text, except Ctrl+Enter.
(function () {
  "use strict";
  var form = document.getElementById("manual-grading");
  if (!form) return;
  var cells = Array.prototype.slice.call(form.querySelectorAll(".grade-cell"));
  var current = 0;

  function focusCell(index) {
    if (!cells.length) return;
    current = Math.max(0, Math.min(cells.length - 1, index));
    var field = cells[current].querySelector("input[type=number]");
    cells[current].scrollIntoView({ block: "start" });
    if (field) field.focus();
  }

  form.addEventListener("focusin", function (event) {
    var cell = event.target.closest(".grade-cell");
    if (cell) current = cells.indexOf(cell);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      var next = document.getElementById("save-next");
      if (form.requestSubmit) form.requestSubmit(next); else next.click();
      return;
    }
    // A points field takes no letters, so j and k move on from it too.
    var tag = event.target.tagName;
    var typing = tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && event.target.type !== "number");
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "j") { event.preventDefault(); focusCell(current + 1); }
    if (event.key === "k") { event.preventDefault(); focusCell(current - 1); }
  });

  // The first answer without points gets the focus: grading starts at once.
  var empty = cells.findIndex(function (cell) {
    var field = cell.querySelector("input[type=number]");
    return field && field.value === "";
  });
  focusCell(empty === -1 ? 0 : empty);
})();
