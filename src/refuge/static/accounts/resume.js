// After a re-authentication: press the "Continue" button once, so the action the user started
// (approve, download, seal) goes on without a second click. Only on a fresh visit: coming back
// to this page (Back, reload) leaves the button to the user. Without JavaScript the button is
// focused, and Enter continues.
(function () {
  "use strict";
  var form = document.getElementById("step-up-resume");
  if (!form) {
    return;
  }
  var entries = window.performance && performance.getEntriesByType
    ? performance.getEntriesByType("navigation")
    : [];
  if (entries.length && entries[0].type !== "navigate") {
    return;
  }
  if (form.requestSubmit) {
    form.requestSubmit();
  } else {
    form.submit();
  }
})();
