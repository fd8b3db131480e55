// M-Pesa Loyalty merchant UI: the program form answers as it is typed — the customer's
// receipt in each language shown, and what the rule would have cost last month. Without
// it the page shows the same, rendered when it loads (and on Check).
(function () {
  "use strict";

  // The program form's live answers (SMS preview, back-test) ask the server the same way:
  // GET `url` with the form's `names` fields as the query, JSON back, rejected unless 2xx.
  function askWithFields(form, url, names) {
    var query = new URLSearchParams();
    names.forEach(function (name) {
      var input = form.elements[name];
      if (input) { query.set(name, input.value); }
    });
    return fetch(url + "?" + query.toString(), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); });
  }

  // A list's items replaced by `items`, as text.
  function fillList(el, items) {
    el.textContent = "";
    items.forEach(function (text) {
      var li = document.createElement("li");
      li.textContent = text;
      el.appendChild(li);
    });
  }

  // SMS preview on the program form: the receipt text and its SMS count as you type, in
  // each language the page shows (the merchant's default first; every language when the
  // program has texts of its own in another), each in its own block.
  function previewSms(form) {
    var url = form.getAttribute("data-preview-url");
    var names = ["name", "sms_template", "points_per_unit", "unit_amount", "multiplier",
                 "min_amount", "stamps_required", "stamp_reward"];
    var timer = null;
    function setIn(root, key, value) {
      var el = root && root.querySelector('[data-preview="' + key + '"]');
      if (el) { el.textContent = value; }
    }
    function refresh() {
      askWithFields(form, url, names)
        .then(function (p) {
          (p.texts || []).forEach(function (t) {
            var block = form.querySelector('[data-preview-language="' + t.language + '"]');
            ["text", "segments", "characters", "encoding", "cost"].forEach(function (key) {
              setIn(block, key, t[key]);
            });
          });
          setIn(form, "rule", p.rule);
          setIn(form, "points", p.points.toLocaleString("en-US"));
          fillList(form.querySelector('[data-preview="problems"]'), p.problems);
          fillList(form.querySelector('[data-preview="warnings"]'), p.warnings);
        })
        .catch(function () { /* the server-rendered preview stays */ });
    }
    form.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 250);
    });
  }

  // "What would this change have cost last month?": the last 30 days re-earned under the
  // rule as typed (GET /programs/<code>/backtest.json); without JS the Check button posts
  // the form and the page answers the same sentences.
  function previewBacktest(form, box) {
    var url = box.getAttribute("data-backtest-url");
    var names = ["points_per_unit", "unit_amount", "multiplier", "min_amount",
                 "stamps_required"];
    var timer = null;
    function refresh() {
      askWithFields(form, url, names)
        .then(function (answer) {
          fillList(box.querySelector('[data-backtest="lines"]'), answer.lines);
        })
        .catch(function () { /* the last answer stays; Check still works */ });
    }
    form.addEventListener("input", function (event) {
      if (names.indexOf(event.target.name) < 0) { return; }
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 400);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var program = document.getElementById("program-form");
    if (program) { previewSms(program); }
    var backtest = document.getElementById("backtest");
    if (program && backtest) { previewBacktest(program, backtest); }
  });
})();
