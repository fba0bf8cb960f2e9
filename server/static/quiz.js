/* The quiz page: ask before submitting blank questions (a blank answer still uses an
   attempt). Without this script the server asks instead, on the page it answers. */
(function () {
  "use strict";
  var form = document.getElementById("quiz-form");
  if (!form) return;

  function blankCount() {
    var blank = 0;
    var questions = form.querySelectorAll("fieldset.question");
    questions.forEach(function (q) {
      var inputs = q.querySelectorAll("input[type=radio], input[type=checkbox], input[type=text]");
      var answered = Array.prototype.some.call(inputs, function (input) {
        return input.type === "text" ? input.value.trim() !== "" : input.checked;
      });
      if (!answered) blank += 1;
    });
    return { blank: blank, total: questions.length };
  }

  form.addEventListener("submit", function (event) {
    var counted = blankCount();
    if (!counted.blank) return;
    // "Submit anyway" on the server's own warning (the no-script path) was the answer.
    if (event.submitter && event.submitter.name === "confirm_blank") return;
    var message = form.dataset.blankWarning
      .replace("{count}", counted.blank).replace("{total}", counted.total);
    if (!window.confirm(message)) {
      event.preventDefault();
      return;
    }
    // Asked and answered here: the server need not ask again.
    var confirmed = document.createElement("input");
    confirmed.type = "hidden";
    confirmed.name = "confirm_blank";
    confirmed.value = "1";
    form.appendChild(confirmed);
  });
})();
