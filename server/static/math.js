/* Typeset every formula of the page (spans of class "math", from the Markdown renderer)
   with the vendored KaTeX. Without JavaScript, or should KaTeX fail, the TeX stays as
   readable text. */
(function () {
  "use strict";
  if (!window.katex) return;
  document.querySelectorAll(".math").forEach(function (el) {
    var display = el.classList.contains("math-display");
    try {
      window.katex.render(el.textContent, el, { displayMode: display, throwOnError: false });
    } catch (err) {
      /* keep the TeX text: still readable */
    }
  });
})();
