// Objection / report forms: mark that JS runs (hides the no-JS refresh button) and check photos before
// sending, so nobody waits for an upload that will be refused. The server checks everything again.
(function () {
  document.documentElement.classList.add("js");
  function check(input) {
    var max = parseInt(input.getAttribute("data-max-photos"), 10) || 3;
    var maxBytes = parseInt(input.getAttribute("data-max-bytes"), 10) || 0;
    var box = input.parentNode.querySelector("[data-photo-error]");
    var msg = "";
    if (input.files.length > max) {
      msg = input.getAttribute("data-msg-count");
    } else {
      for (var i = 0; i < input.files.length; i++) {
        if (maxBytes && input.files[i].size > maxBytes) {
          msg = input.getAttribute("data-msg-size");
          break;
        }
      }
    }
    if (box) { box.textContent = msg; box.hidden = !msg; }
    input.setAttribute("aria-invalid", msg ? "true" : "false");
    return !msg;
  }
  document.addEventListener("change", function (ev) {
    if (ev.target.matches && ev.target.matches("input[type=file][data-max-photos]")) check(ev.target);
  });
  document.addEventListener("submit", function (ev) {
    var input = ev.target.querySelector("input[type=file][data-max-photos]");
    if (input && !check(input)) { ev.preventDefault(); input.focus(); return; }
    var btn = ev.target.querySelector("button[type=submit].primary");
    // A second tap while uploading would only send the same form again (the server keeps one copy anyway).
    if (btn && !ev.defaultPrevented) { setTimeout(function () { btn.disabled = true; }, 0); }
  });
  // A field's check (htmx) never sends a typed phone number back (the server answers the field with an empty
  // box): the box keeps what the person typed in it.
  var typed = {};
  document.addEventListener("htmx:beforeSwap", function (ev) {
    typed = {};
    var target = ev.detail.target;
    if (!target || !target.querySelectorAll) return;
    target.querySelectorAll("input[inputmode=tel]").forEach(function (input) {
      if (input.id && input.value) typed[input.id] = input.value;
    });
  });
  document.addEventListener("htmx:afterSwap", function () {
    Object.keys(typed).forEach(function (id) {
      var input = document.getElementById(id);
      if (input && !input.value) input.value = typed[id];
    });
    typed = {};
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form.feedback-form button[type=submit]").forEach(function (b) { b.disabled = false; });
  });
})();
