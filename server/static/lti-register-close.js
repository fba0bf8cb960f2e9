// LTI Dynamic Registration: tell the LMS that registration is over, so it closes its
// iframe or window (the spec's message; '*' because the LMS's origin is not known here).
(window.opener || window.parent).postMessage({ subject: "org.imsglobal.lti.close" }, "*");
