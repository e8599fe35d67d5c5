// After a passkey is registered, continue to the next step of enrolment (or reload the page).
document.addEventListener("otp_webauthn.register_complete", () => {
  const done = document.getElementById("passkey-register-done");
  const next = done && done.dataset.next;
  window.setTimeout(() => window.location.assign(next || window.location.href), 800);
});
