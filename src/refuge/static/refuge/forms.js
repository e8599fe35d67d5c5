// Refuge: when an htmx form request fails (too large, form expired, server error, no network),
// say so above the form instead of silently doing nothing. The form is not replaced, so what
// was typed stays in it. Messages come from data attributes on <main> (translated there).
(function () {
  "use strict";

  function show(form, text) {
    var box = form.querySelector(".request-error");
    if (!box) {
      box = document.createElement("div");
      box.className = "form-errors request-error";
      box.setAttribute("role", "alert");
      form.insertBefore(box, form.firstChild);
    }
    box.textContent = text;
    box.scrollIntoView({ block: "nearest" });
  }

  function formOf(event) {
    var element = event.detail && event.detail.elt;
    return element && element.closest ? element.closest("form") : null;
  }

  function message(name) {
    var main = document.getElementById("main");
    return (main && main.getAttribute("data-" + name)) || "";
  }

  document.addEventListener("htmx:responseError", function (event) {
    var form = formOf(event);
    if (!form) {
      return;
    }
    var xhr = event.detail.xhr;
    var type = (xhr && xhr.getResponseHeader("Content-Type")) || "";
    var text = type.indexOf("text/plain") === 0 ? xhr.responseText : "";
    show(form, text || message("request-failed"));
  });

  document.addEventListener("htmx:sendError", function (event) {
    var form = formOf(event);
    if (form) {
      show(form, message("request-unsent"));
    }
  });

  // A new attempt starts clean.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = formOf(event);
    var box = form && form.querySelector(".request-error");
    if (box) {
      box.remove();
    }
  });
})();
