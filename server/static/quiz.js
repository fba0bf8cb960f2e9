/* The quiz page: ask before submitting blank questions (a blank answer still uses an
   attempt). Without this script the form posts as it is. */
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
    var message = form.dataset.blankWarning
      .replace("{count}", counted.blank).replace("{total}", counted.total);
    if (!window.confirm(message)) event.preventDefault();
  });
})();
