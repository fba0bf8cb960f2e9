/* The exercise page, enhanced: a code editor, live results and the decay chart (math.js
   typesets the formulas). Without this script the page is a plain form that posts and
   redirects; everything here is an addition to that, never a replacement. */
(function () {
  "use strict";

  var POLL_MS = [300, 300, 500, 500, 800, 1000];  // quick at first: grading takes ~0.1 s
  var editor = null;

  function setUpEditor() {
    var area = document.getElementById("code");
    if (!area || !window.CodeMirror) return;
    // Esc then Tab leaves the editor, so the keyboard is never trapped: Esc adds a key map
    // that hands Tab back to the browser, and any other key or leaving removes it.
    var release = { Tab: false, "Shift-Tab": false };
    editor = window.CodeMirror.fromTextArea(area, {
      mode: "python",
      lineNumbers: true,
      indentUnit: 4,
      tabSize: 4,
      indentWithTabs: false,
      matchBrackets: true,
      viewportMargin: Infinity,
      screenReaderLabel: "Python file",
      extraKeys: {
        Esc: function (cm) { cm.addKeyMap(release); },
        Tab: function (cm) {
          if (cm.somethingSelected()) cm.indentSelection("add");
          else cm.replaceSelection("    ", "end");
        },
        "Shift-Tab": function (cm) { cm.indentSelection("subtract"); },
      },
    });
    editor.on("keydown", function (cm, event) {
      if (event.key !== "Escape" && event.key !== "Tab") cm.removeKeyMap(release);
    });
    editor.on("blur", function (cm) { cm.removeKeyMap(release); });
    var input = editor.getInputField();
    input.setAttribute("aria-describedby", "code-help");
    input.id = "code-editor-input";
    document.querySelector('label[for="code"]').setAttribute("for", "code-editor-input");
  }

  function setUpUpload() {
    var upload = document.getElementById("upload");
    if (!upload || !editor || !window.FileReader) return;
    upload.addEventListener("change", function () {
      var file = upload.files[0];
      if (!file) return;
      var reader = new FileReader();
      reader.onload = function () {
        editor.setValue(String(reader.result));
        upload.value = "";  // the editor now holds it; submit what the student sees
        showStatus("Loaded " + file.name + " into the editor. Submit it when ready.");
      };
      reader.readAsText(file);
    });
  }

  function showStatus(text) {
    var section = document.getElementById("result");
    section.hidden = false;
    document.getElementById("result-status").textContent = text;
  }

  function setUpForm() {
    var form = document.getElementById("submit-form");
    if (!form || !window.fetch) return;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (editor) editor.save();
      var data = new FormData(form);
      if (!document.getElementById("upload").value) data.delete("upload");
      var button = document.getElementById("submit-button");
      button.disabled = true;
      saved = currentCode();  // a submission keeps the code: nothing left unsaved
      clearErrorLine();
      showStatus("Submitting…");
      document.getElementById("result-body").innerHTML = "";
      fetch(form.dataset.jsonUrl, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(readJson)
        .then(function (view) { button.disabled = false; follow(view, 0); })
        .catch(function (err) { button.disabled = false; showStatus(err.message); });
    });
  }

  // Run the visible tests only: the answer is shown in the result area, nothing is stored
  // and no attempt is spent (the server rate-limits it). Shown only with this script.
  function setUpCheck() {
    var form = document.getElementById("submit-form");
    var button = document.getElementById("check-button");
    if (!form || !button || !window.fetch || !form.dataset.checkUrl) return;
    button.hidden = false;
    document.getElementById("check-help").hidden = false;
    button.addEventListener("click", function () {
      if (editor) editor.save();
      var data = new FormData();
      data.append("csrf_token", form.querySelector('[name="csrf_token"]').value);
      data.append("code", document.getElementById("code").value);
      button.disabled = true;
      clearErrorLine();
      showStatus("Running the visible tests…");
      document.getElementById("result-body").innerHTML = "";
      fetch(form.dataset.checkUrl, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          if (response.status === 429) throw new Error("Too many checks in a minute: wait a little, then run them again.");
          return readJson(response);
        })
        .then(function (view) {
          button.disabled = false;
          showStatus(view.loaded ? "Visible tests run (not a submission)." : "Your file did not load (not a submission).");
          var body = document.getElementById("result-body");
          body.innerHTML = view.html;
          setUpResult(body);
          if (view.error_location) markErrorLine(view.error_location, false);
        })
        .catch(function (err) { button.disabled = false; showStatus(err.message.replace("Not submitted", "Not run")); });
    });
  }

  // Autosave: the editor's code goes to the server as a draft a moment after each change,
  // so it follows the student to another computer; leaving with unsaved changes warns.
  var DRAFT_DELAY_MS = 2000;
  var saved = null;  // the code the server holds (the page opened with it)

  function currentCode() {
    return editor ? editor.getValue() : document.getElementById("code").value;
  }

  function setUpDrafts() {
    var form = document.getElementById("submit-form");
    if (!form || !window.fetch || !form.dataset.draftUrl) return;
    saved = currentCode();
    var timer = null;
    var status = document.getElementById("draft-status");
    function save() {
      var code = currentCode();
      if (code === saved) return;
      var data = new FormData();
      data.append("csrf_token", form.querySelector('[name="csrf_token"]').value);
      data.append("code", code);
      status.textContent = "Saving draft…";
      fetch(form.dataset.draftUrl, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          if (!response.ok) throw new Error(String(response.status));
          saved = code;
          form.dataset.draftSaved = "yes";
          status.textContent = "Draft saved " + new Date().toLocaleTimeString() + ".";
        })
        .catch(function () {
          status.textContent = "Draft not saved yet: will try again.";
          window.clearTimeout(timer);
          timer = window.setTimeout(save, 5 * DRAFT_DELAY_MS);  // offline or limited: retry
        });
    }
    function changed() {
      form.dataset.draftSaved = "no";
      window.clearTimeout(timer);
      timer = window.setTimeout(save, DRAFT_DELAY_MS);
    }
    if (editor) editor.on("change", changed);
    else document.getElementById("code").addEventListener("input", changed);
    window.addEventListener("beforeunload", function (event) {
      if (saved === null || currentCode() === saved) return;
      save();  // one last try; the browser asks the student whether to leave
      event.preventDefault();
      event.returnValue = "";
    });
  }

  function readJson(response) {
    return response.json().then(function (body) {
      if (!response.ok) {
        var message = body && body.error ? body.error.message : response.statusText;
        throw new Error("Not submitted: " + message + ".");
      }
      return body;
    }, function () {
      throw new Error("The server answered " + response.status + "; please try again.");
    });
  }

  function follow(view, round) {
    showStatus(view.status_text);
    if (view.status === "queued" || view.status === "running") {
      var wait = POLL_MS[Math.min(round, POLL_MS.length - 1)];
      window.setTimeout(function () {
        fetch(view.json_url, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(readJson)
          .then(function (next) { follow(next, round + 1); })
          .catch(function () { follow(view, round + 1); });  // a blip: keep polling
      }, wait);
      return;
    }
    var body = document.getElementById("result-body");
    body.innerHTML = view.html;
    document.getElementById("history").innerHTML = view.history_html;
    setUpResult(body);
    if (view.error_location) markErrorLine(view.error_location, false);
  }

  function clearErrorLine() {
    if (editor && editor.rubricErrorLine !== undefined) {
      editor.removeLineClass(editor.rubricErrorLine, "background", "error-line");
      editor.rubricErrorLine = undefined;
    }
  }

  function markErrorLine(where, focus) {
    if (!editor) return;
    clearErrorLine();
    var line = Math.max(0, Math.min(where.line - 1, editor.lineCount() - 1));
    editor.addLineClass(line, "background", "error-line");
    editor.rubricErrorLine = line;
    editor.setCursor({ line: line, ch: Math.max(0, where.column - 1) });
    editor.scrollIntoView(null, 80);
    if (focus) editor.focus();
  }

  function setUpResult(root) {
    root.querySelectorAll(".goto-line").forEach(function (button) {
      if (!editor) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        markErrorLine({ line: +button.dataset.line, column: +button.dataset.column }, true);
      });
    });
    root.querySelectorAll(".demo").forEach(drawDemo);
    root.querySelectorAll(".sweep").forEach(drawSweep);
  }

  // The lambda sweep: training and validation loss against λ (log axis), the reference's
  // dashed, the best λ of each validation curve drawn as a larger point.
  function drawSweep(section) {
    if (!window.Chart || section.dataset.drawn) return;
    section.dataset.drawn = "yes";
    var sweep = JSON.parse(section.querySelector(".sweep-data").textContent);
    var mine = JSON.parse(section.querySelector(".sweep-mine").textContent);
    function points(losses) {
      return sweep.lams.map(function (lam, i) { return { x: lam, y: losses[i] }; });
    }
    function bestRadius(losses, bestLam) {
      return sweep.lams.map(function (lam) { return lam === bestLam ? 7 : 2; });
    }
    function line(label, losses, color, dashed, bestLam) {
      return {
        label: label, data: points(losses), borderColor: color, backgroundColor: color,
        borderWidth: dashed ? 2 : 3, borderDash: dashed ? [6, 4] : [], spanGaps: false,
        pointRadius: bestLam === undefined ? 2 : bestRadius(losses, bestLam),
      };
    }
    var datasets = [];
    if (mine) {
      datasets.push(line("Your training loss", sweep.student.train, "#1d4ed8", false));
      datasets.push(line("Your validation loss", sweep.student.validation, "#be123c", false,
                         sweep.student_best));
    }
    datasets.push(line("Reference training loss", sweep.reference.train, "#0f766e", true));
    datasets.push(line("Reference validation loss", sweep.reference.validation, "#b45309", true,
                       sweep.reference_best));
    section.querySelector(".chart-box").hidden = false;
    new window.Chart(section.querySelector("canvas"), {
      type: "line",
      data: { datasets: datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        parsing: true,
        interaction: { mode: "nearest", intersect: false },
        scales: {
          x: {
            type: "logarithmic",
            title: { display: true, text: "λ (log scale)" },
            ticks: {  // powers of ten only: the in-between ticks crowd the axis
              callback: function (value) {
                var power = Math.log10(value);
                return Math.abs(power - Math.round(power)) < 1e-9 ? String(value) : "";
              },
            },
          },
          y: { title: { display: true, text: "loss: ½ mean squared error" }, beginAtZero: true },
        },
      },
    });
  }

  // One y-axis for every λ, so a larger λ visibly ends nearer 0. The student's points
  // widen it, but at most by twice the reference's span: one diverging λ must not
  // flatten every other curve.
  function sharedRange(reference, student) {
    var ref = extent(reference), mine = extent(student);
    var span = (ref.max - ref.min) || 1;
    // 0 is always on the axis: it is where decay pulls every weight.
    var low = Math.min(0, ref.min, Math.max(mine.min, ref.min - 2 * span));
    var high = Math.max(ref.max, Math.min(mine.max, ref.max + 2 * span));
    return { min: niceFloor(low), max: niceCeil(high) };
  }

  function extent(curves) {
    var low = Infinity, high = -Infinity;
    (curves || []).forEach(function (curve) {
      (curve || []).forEach(function (y) {
        if (typeof y !== "number" || !isFinite(y)) return;
        low = Math.min(low, y);
        high = Math.max(high, y);
      });
    });
    return { min: low, max: high };
  }

  function niceFloor(x) { return Math.floor(x * 10) / 10; }
  function niceCeil(x) { return Math.ceil(x * 10) / 10; }

  function drawDemo(section) {
    if (!window.Chart) return;
    var demo = JSON.parse(section.querySelector(".demo-data").textContent);
    var slider = section.querySelector(".lam-slider");
    var output = section.querySelector(".lam-value");
    var steps = [];
    for (var i = 0; i <= demo.steps; i++) steps.push(i);
    var range = sharedRange(demo.reference, demo.student);
    section.querySelector(".demo-controls").hidden = false;
    section.querySelector(".chart-box").hidden = false;
    var chart = new window.Chart(section.querySelector("canvas"), {
      type: "line",
      data: {
        labels: steps,
        datasets: [
          { label: "Your weight_decay_step", data: [], borderColor: "#1d4ed8",
            backgroundColor: "#1d4ed8", borderWidth: 4, pointRadius: 0, spanGaps: false,
            order: 2 },
          { label: "Reference", data: [], borderColor: "#b45309", backgroundColor: "#b45309",
            borderWidth: 2, borderDash: [6, 4], pointRadius: 0, order: 1 },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { title: { display: true, text: "step" }, ticks: { maxTicksLimit: 11 } },
          y: { title: { display: true, text: "weight w" }, min: range.min, max: range.max },
        },
      },
    });
    section.dataset.yMin = String(range.min);
    section.dataset.yMax = String(range.max);
    function show() {
      var k = +slider.value;
      var lam = demo.lams[k];
      output.textContent = "λ = " + lam;
      slider.setAttribute("aria-valuetext", "λ = " + lam);
      chart.data.datasets[0].data = demo.student[k] || [];
      chart.data.datasets[1].data = demo.reference[k];
      chart.update();
      section.dataset.lam = String(lam);
    }
    slider.addEventListener("input", show);
    show();
  }

  setUpEditor();
  setUpUpload();
  setUpForm();
  setUpCheck();
  setUpDrafts();
  document.querySelectorAll(".submission-result, .reference-sweep").forEach(setUpResult);
})();
