// "朗读" (read aloud, 适老化): a button that reads a page's main text with the browser's own speech synthesis.
// The button stays hidden until the browser offers a Chinese voice (voices load late, so it listens for
// "voiceschanged"), so nobody presses a button that does nothing. What it reads: the element named by the
// button's data-read-target, or the nearest [data-read-aloud-source] around it.
(function () {
  "use strict";
  var synth = window.speechSynthesis;
  if (!synth || typeof window.SpeechSynthesisUtterance !== "function") return;

  function chineseVoice() {
    var voices = synth.getVoices() || [];
    for (var i = 0; i < voices.length; i++) {
      if (/^zh([-_]CN)?/i.test(voices[i].lang || "")) return voices[i];
    }
    return null;
  }

  function buttons() { return document.querySelectorAll("[data-read-aloud-button]"); }

  function show() {
    var voice = chineseVoice();
    buttons().forEach(function (b) {
      b.hidden = !voice;
      var holder = b.closest("[data-read-aloud]");
      if (holder) holder.hidden = !voice;
    });
    return voice;
  }

  function setPressed(button, on) {
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.textContent = on ? button.dataset.labelStop : button.dataset.labelStart;
  }

  function textOf(button) {
    var target = button.dataset.readTarget ? document.querySelector(button.dataset.readTarget)
      : button.closest("[data-read-aloud-source]") || document.querySelector("[data-read-aloud-source]");
    if (!target) return "";
    var copy = target.cloneNode(true);
    copy.querySelectorAll("[data-read-aloud], [aria-hidden=true], svg, script, style, button").forEach(function (el) { el.remove(); });
    return (copy.innerText || copy.textContent || "").replace(/\s+/g, " ").trim();
  }

  function stop() {
    synth.cancel();
    buttons().forEach(function (b) { setPressed(b, false); });
  }

  document.addEventListener("click", function (ev) {
    var button = ev.target.closest && ev.target.closest("[data-read-aloud-button]");
    if (!button) return;
    if (button.getAttribute("aria-pressed") === "true") { stop(); return; }
    var voice = chineseVoice();
    var text = textOf(button);
    if (!voice || !text) return;
    synth.cancel();
    var utterance = new SpeechSynthesisUtterance(text);
    try { utterance.voice = voice; } catch (e) { /* a voice this browser cannot hand over: the language decides */ }
    utterance.lang = voice.lang;
    utterance.rate = 0.9; // a little slower than the default, for older listeners
    utterance.onend = utterance.onerror = function () { setPressed(button, false); };
    setPressed(button, true);
    synth.speak(utterance);
  });

  window.dibaoReadAloud = { stop: stop, refresh: show };
  if (!show() && "onvoiceschanged" in synth) synth.addEventListener("voiceschanged", show);
  window.addEventListener("pagehide", stop);
})();
