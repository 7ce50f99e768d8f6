// Progressive help for the editor UI: everything works without it.
(function () {
  "use strict";
  var csrf = function (form) {
    var input = form && form.querySelector("input[name=_csrf]");
    return input ? input.value : "";
  };

  // Live preview of Markdown fields, rendered and sanitised by the server
  // exactly as the channels will show it.
  document.querySelectorAll("textarea[data-markdown]").forEach(function (area) {
    var preview = document.querySelector("[data-preview-for='" + area.id + "']");
    if (!preview) return;
    var timer = null;
    var update = function () {
      var body = new URLSearchParams();
      body.set("_csrf", csrf(area.form));
      body.set("text", area.value);
      fetch("/admin/preview", { method: "POST", body: body, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : ""; })
        .then(function (html) { preview.innerHTML = html; preview.hidden = html === ""; });
    };
    area.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(update, 300);
    });
    if (area.value.trim() !== "") update();
  });

  // A warning before leaving a form with unsaved changes.
  document.querySelectorAll("form[data-warn-unsaved]").forEach(function (form) {
    var changed = false;
    form.addEventListener("input", function () { changed = true; });
    form.addEventListener("change", function () { changed = true; });
    form.addEventListener("submit", function () { changed = false; });
    window.addEventListener("beforeunload", function (event) {
      if (!changed) return;
      event.preventDefault();
      event.returnValue = "";
    });
  });
})();
