// M-Pesa Loyalty merchant UI: small progressive enhancements. Every page works without it.
// This file holds what every page uses (copy buttons, the menu, phone tables, errors that
// go away once fixed) and the helpers the others share through window.LoyaltyUI; it is
// loaded first (base.html). app-live.js follows work under way (a channel's setup steps,
// its missed-payment checks, the dashboard); app-previews.js answers the program form as
// it is typed (receipt preview, back-test).
(function () {
  "use strict";

  // A field's error goes away as soon as the merchant changes that field (the server checks
  // it again on save); the page's "correct the fields marked below" goes with the last one.
  function clearStaleErrors(event) {
    var box = event.target.closest && event.target.closest(".field.invalid");
    if (!box) { return; }
    box.classList.remove("invalid");
    var error = box.querySelector(".field-error");
    var input = event.target;
    input.removeAttribute("aria-invalid");
    if (error) {
      var described = (input.getAttribute("aria-describedby") || "").split(" ").filter(
        function (id) { return id && id !== error.id; });
      if (described.length) { input.setAttribute("aria-describedby", described.join(" ")); }
      else { input.removeAttribute("aria-describedby"); }
      error.parentNode.removeChild(error);
    }
    var form = input.form;
    if (form && !form.querySelector(".field.invalid")) {
      var summary = document.querySelector('[data-errors="fields"]');
      if (summary) { summary.parentNode.removeChild(summary); }
    }
  }

  // The menu is a <details>: folded on a phone, always open where it fits on one line.
  function keepMenuOpenWhenWide(menu) {
    var wide = window.matchMedia("(min-width: 48rem)");
    function apply() { menu.open = wide.matches; }
    apply();
    if (wide.addEventListener) { wide.addEventListener("change", apply); }
  }

  // Phone cards: each cell says which column it belongs to (CSS shows it before the value).
  function labelCells(table) {
    var names = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
      return th.textContent.trim();
    });
    Array.prototype.forEach.call(table.querySelectorAll("tbody tr"), function (row) {
      Array.prototype.forEach.call(row.children, function (cell, i) {
        if (!cell.hasAttribute("data-label") && names[i] !== undefined) {
          cell.setAttribute("data-label", names[i]);
        }
      });
    });
  }

  // Copy buttons beside an API key or a URL (added here, so without JavaScript there is
  // no button that does nothing; the text itself can still be selected).
  function copyText(text, source) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    var box = source.tagName === "INPUT" ? source : document.createElement("textarea");
    if (box !== source) { box.value = text; document.body.appendChild(box); }
    box.select();
    var done = document.execCommand("copy");
    if (box !== source) { document.body.removeChild(box); }
    return done ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  // The words the script says itself, in the page's language (<body data-words>, i18n.py).
  var WORDS = {copy: "Copy", copied: "Copied", copy_what: "Copy {what}",
               is_copied: "{what} is copied.", by_hand: "Select and copy by hand",
               new_payment: "New payment:", new_payments: "{count} new payments."};
  try {
    var given = JSON.parse(document.body.getAttribute("data-words") || "{}");
    Object.keys(given).forEach(function (key) { WORDS[key] = given[key]; });
  } catch (e) { /* the English words stay */ }

  function addCopyButton(source) {
    var button = document.createElement("button");
    var what = source.getAttribute("data-copy") || "this";
    button.type = "button";
    button.className = "copy";
    button.textContent = WORDS.copy;
    button.setAttribute("aria-label", WORDS.copy_what.replace("{what}", what));
    var said = document.createElement("span");
    said.className = "sr-only";
    said.setAttribute("role", "status");
    button.addEventListener("click", function () {
      var text = source.value !== undefined && source.tagName === "INPUT" ? source.value
        : source.textContent.trim();
      copyText(text, source).then(function () {
        button.textContent = WORDS.copied;
        var sentence = WORDS.is_copied.replace("{what}", what);
        said.textContent = sentence.charAt(0).toUpperCase() + sentence.slice(1);
      }, function () {
        button.textContent = WORDS.by_hand;
      });
      window.setTimeout(function () { button.textContent = WORDS.copy; said.textContent = ""; }, 2500);
    });
    source.insertAdjacentElement("afterend", said);
    source.insertAdjacentElement("afterend", button);
  }

  // Branding: choosing a colour means "not the standard ones", so the box unticks itself.
  function untickStandardColours(form) {
    var box = form.querySelector('input[name="standard_colors"]');
    form.addEventListener("input", function (event) {
      if (box && event.target.type === "color") { box.checked = false; }
    });
  }

  // Shared with app-live.js and app-previews.js (loaded after this one, also deferred).
  window.LoyaltyUI = {labelCells: labelCells, words: WORDS};

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-copy]"), addCopyButton);
    var menu = document.getElementById("menu");
    if (menu) { keepMenuOpenWhenWide(menu); }
    Array.prototype.forEach.call(document.querySelectorAll(".table-wrap > table"), labelCells);
    document.addEventListener("input", clearStaleErrors);
    document.addEventListener("change", clearStaleErrors);
    var look = document.getElementById("brand-look");
    if (look) { untickStandardColours(look); }
  });
})();
