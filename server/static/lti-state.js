// The LTI login inside the LMS's iframe when cookies may be blocked (docs/lti.md,
// "Launches inside the LMS iframe"). Login: keep the state's value in the platform's
// storage (LTI Client Side postMessages: lti.put_data), check the login cookie is kept,
// then go on to the platform, or offer a new window. Launch without the cookie: read the
// value back (lti.capabilities, lti.get_data) and post it, for the server to check; in
// a new window when this frame keeps no cookie (the log-in would not stick here).
"use strict";

(function () {
  const WAIT_MS = 2000; // a platform without storage never answers
  const box = document.getElementById("lti-state");
  if (!box) return;
  const data = box.dataset;

  function messageId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return String(Date.now()) + Math.random().toString(16).slice(2);
  }

  // Post one message to the platform's frame; its answer, or null after WAIT_MS.
  function send(frame, message) {
    return new Promise(function (resolve) {
      const id = messageId();
      const expected = message.subject + ".response";
      const timer = setTimeout(function () { finish(null); }, WAIT_MS);
      function finish(answer) {
        clearTimeout(timer);
        window.removeEventListener("message", listen);
        resolve(answer);
      }
      function listen(event) {
        // Only the platform may answer, and only to this message.
        if (event.origin !== data.platformOrigin) return;
        const answer = event.data;
        if (!answer || answer.subject !== expected || answer.message_id !== id) return;
        finish(answer);
      }
      window.addEventListener("message", listen);
      try {
        frame.postMessage(Object.assign({ message_id: id }, message), data.platformOrigin);
      } catch (error) {
        finish(null);
      }
    });
  }

  // The platform's storage frame: its parent, or a named frame beside this one.
  function storageFrame(name) {
    if (!name || name === "_parent") return window.parent;
    try {
      return window.parent.frames[name] || window.top.frames[name] || null;
    } catch (error) {
      return null;
    }
  }

  function cookieKept() {
    return document.cookie.split("; ").indexOf(data.probeCookie + "=1") !== -1;
  }

  async function login() {
    let stored = false;
    const frame = data.storageTarget ? storageFrame(data.storageTarget) : null;
    if (frame && frame !== window) {
      const message = { subject: "lti.put_data", key: data.storageKey, value: data.storageValue };
      const answer = await send(frame, message);
      stored = Boolean(answer && !answer.error && answer.value === data.storageValue);
    }
    if (stored || cookieKept()) {
      window.location.replace(data.authUrl);
      return;
    }
    box.hidden = true;
    document.getElementById("lti-new-window").hidden = false;
  }

  async function readStorage() {
    if (window.parent === window) return "";
    const capabilities = await send(window.parent, { subject: "lti.capabilities" });
    const offered = (capabilities && capabilities.supported_messages) || [];
    const getData = offered.find(function (m) { return m.subject === "lti.get_data"; });
    if (!getData) return "";
    const frame = storageFrame(getData.frame);
    if (!frame) return "";
    const answer = await send(frame, { subject: "lti.get_data", key: data.storageKey });
    return answer && !answer.error && typeof answer.value === "string" ? answer.value : "";
  }

  async function launch() {
    const form = document.getElementById("lti-state-form");
    const value = await readStorage();
    form.elements.lti_storage_value.value = value;
    if (!value || cookieKept()) {
      form.submit(); // without a value, the server's 400 page says what was wrong
      return;
    }
    // The launch is this browser's, but the log-in cookie would not stick in this
    // frame: finish it in a window of its own, which needs the user's click.
    document.getElementById("lti-state-working").hidden = true;
    document.getElementById("lti-state-status").hidden = true;
    document.getElementById("lti-new-window").hidden = false;
  }

  if (data.mode === "login") login();
  else launch();
})();
