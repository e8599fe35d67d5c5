// The passkey script calls gettext() for its status messages. Django's JavaScript catalogue is a
// view, not a file, and pages load scripts from /static/ only, so the messages stay in English.
if (typeof window.gettext !== "function") {
  window.gettext = (text) => text;
}
