// M-Pesa Loyalty merchant UI: following work under way without reloading — a channel's
// setup steps while Safaricom answers, its missed-payment checks, the dashboard's live
// parts. Uses window.LoyaltyUI from app.js (loaded before it). Every page works without it.
(function () {
  "use strict";

  var UI = window.LoyaltyUI;
  var labelCells = UI.labelCells;
  var WORDS = UI.words;

  // Live status on the channel setup page: while the worker (or, under `make run`, a
  // background thread) talks to Safaricom, poll the channel's status; once a step has
  // finished, swap in the freshly rendered steps (the next step's button comes from the
  // server) without reloading. Without JavaScript the page says to reload.
  var LABELS = {
    verification: {not_started: "Not started", pending: "Checking with Safaricom…",
                   verified: "Verified", failed: "Failed"},
    urls: {not_registered: "Not registered", pending: "Registering with Safaricom…",
           registered: "Registered", failed: "Failed"}
  };
  var SLOW_AFTER = 20000;   // Safaricom usually answers within seconds
  var GIVE_UP_AFTER = 180000;

  function say(box, text) {
    var announce = box.querySelector('[data-live="announce"]');
    if (announce) { announce.textContent = text; }
  }

  function showSlow(box, state) {
    Array.prototype.forEach.call(box.querySelectorAll('[data-live="' + state + '"]'),
      function (el) { el.hidden = false; });
  }

  function swapSteps(box) {
    return fetch(window.location.pathname, {credentials: "same-origin"})
      // Redirected means logged out: never swap the login page in.
      .then(function (r) { return r.ok && !r.redirected ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
        if (!fresh) { return Promise.reject("no steps"); }
        box.innerHTML = fresh.innerHTML;
        box.setAttribute("data-pending", fresh.getAttribute("data-pending"));
        watchSteps(box);
        var done = box.querySelector("[data-live-result]");
        if (done) { say(box, done.textContent.trim()); }
        if (fresh.getAttribute("data-pending") === "true") { pollStatus(box); }
      })
      // Never reload from here: a reload racing the merchant's own (or a test's) leaves a
      // detached page. Say the page may be behind instead.
      .catch(function () { showSlow(box, "stale"); });
  }

  function pollStatus(box) {
    var url = box.getAttribute("data-status-url");
    // The page's own words (its language); the English ones if it has none.
    var labels = LABELS;
    try { labels = JSON.parse(box.getAttribute("data-labels")) || LABELS; } catch (e) { /* keep */ }
    var started = Date.now();
    var slow = false;
    function again(ms) {
      var waited = Date.now() - started;
      if (!slow && waited > SLOW_AFTER) { slow = true; showSlow(box, "slow"); }
      if (waited < GIVE_UP_AFTER) { window.setTimeout(tick, ms); }
      else { showSlow(box, "gave-up"); }
    }
    function tick() {
      fetch(url, {headers: {Accept: "application/json"}, credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (channel) {
          var pending = false;
          ["verification", "urls"].forEach(function (step) {
            var state = channel[step].state;
            var el = box.querySelector('[data-live="' + step + '"]');
            if (el && el.getAttribute("data-state") !== state) {
              el.textContent = (labels[step] || {})[state] || state;
              el.setAttribute("data-state", state);
              say(box, el.textContent);
            }
            pending = pending || state === "pending";
          });
          if (!pending) { swapSteps(box); return; }
          again(1000);
        })
        .catch(function () { again(3000); });
    }
    window.setTimeout(tick, 700);
  }

  // Missed-payment checks on a channel's page: while the Pull registration or a check is
  // under way, fetch the page again and swap in the fresh section, announcing what changed
  // (each run and status says its own sentence in data-say, in the page's language). Only
  // the runs are swapped while the forms stay the same, so a number being typed is kept.
  var CHECK_EVERY = 1500;
  var CHECK_SLOW_AFTER = 60000;
  var CHECK_GIVE_UP_AFTER = 600000;

  function pollChecks(section) {
    var started = Date.now();
    function live() { return section.querySelector("#missed-payments-live"); }
    function said(root) {  // the newest run's sentence, keyed by the run
      var el = root.querySelector(".runs li[data-say]");
      return el ? el.id + "|" + el.getAttribute("data-say") : "";
    }
    function tick() {
      fetch(window.location.pathname, {credentials: "same-origin"})
        .then(function (r) { return r.ok && !r.redirected ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html")
            .getElementById("missed-payments-live");
          if (!fresh) { return Promise.reject("no section"); }
          var current = live();
          var before = said(current);
          if (fresh.getAttribute("data-pull-state") !== current.getAttribute("data-pull-state")) {
            current.innerHTML = fresh.innerHTML;
            watchSteps(current);
            var pull = current.querySelector("[data-pull-say]");
            if (pull) { say(section, pull.getAttribute("data-pull-say")); }
          } else {
            var part = current.querySelector('[data-live-part="runs"]');
            var freshPart = fresh.querySelector('[data-live-part="runs"]');
            if (part && freshPart) { part.innerHTML = freshPart.innerHTML; }
          }
          current.setAttribute("data-pull-state", fresh.getAttribute("data-pull-state"));
          current.setAttribute("data-pending", fresh.getAttribute("data-pending"));
          var after = said(current);
          if (after && after !== before) { say(section, after.slice(after.indexOf("|") + 1)); }
          Array.prototype.forEach.call(current.querySelectorAll(".table-wrap > table"), labelCells);
          if (fresh.getAttribute("data-pending") !== "true") {
            section.querySelector('[data-live="slow"]').hidden = true;
            return;
          }
          var waited = Date.now() - started;
          if (waited > CHECK_SLOW_AFTER) { showSlow(section, "slow"); }
          if (waited < CHECK_GIVE_UP_AFTER) { window.setTimeout(tick, CHECK_EVERY); }
          else { showSlow(section, "stale"); }
        })
        .catch(function () { showSlow(section, "stale"); });
    }
    window.setTimeout(tick, CHECK_EVERY);
  }

  // A step's button: once pressed, it is disabled and spins until the page comes back, so
  // a second press cannot queue the step twice.
  function watchSteps(box) {
    Array.prototype.forEach.call(box.querySelectorAll("form[data-step]"), function (form) {
      form.addEventListener("submit", function () {
        var button = form.querySelector('button[type="submit"], button:not([type])');
        if (!button) { return; }
        window.setTimeout(function () {  // after the browser has taken the form's values
          button.disabled = true;
          button.setAttribute("aria-busy", "true");
          button.insertAdjacentHTML("afterbegin", '<span class="spinner" aria-hidden="true"></span>');
        }, 0);
        say(box, box.getAttribute("data-working") || "Working…");
      });
    });
  }

  // The dashboard's live parts (the setup checklist, today and the feed, the channel cards):
  // fetch them, server-rendered, every few seconds and swap each one that changed into the
  // part of the page with the same data-live-part, marking payments that arrived meanwhile
  // and saying so to screen readers. Paused while the tab is hidden; slower after a failed
  // fetch.
  var FEED_EVERY = 5000;

  function pollDashboard(box) {
    var url = box.getAttribute("data-live-url");
    var announce = document.getElementById("feed-announce");
    // Each part as the server last rendered it (the page itself, to begin with): a part is
    // swapped only when it changed, so focus and marks survive the polls that change nothing.
    var last = {};
    Array.prototype.forEach.call(box.querySelectorAll("[data-live-part]"), function (part) {
      last[part.getAttribute("data-live-part")] = part.innerHTML;
    });
    // Payments on screen when the page loaded are not news; any other one that shows up is.
    var known = {};
    function remember() {
      Array.prototype.forEach.call(box.querySelectorAll(".feed-item"),
                                   function (li) { known[li.id] = true; });
    }
    remember();
    function swap(html) {
      var fresh = new DOMParser().parseFromString(html, "text/html");
      Array.prototype.forEach.call(fresh.querySelectorAll("[data-live-part]"), function (part) {
        var name = part.getAttribute("data-live-part");
        var here = box.querySelector('[data-live-part="' + name + '"]');
        if (here && last[name] !== part.innerHTML) {
          here.innerHTML = part.innerHTML;
          last[name] = part.innerHTML;
        }
      });
    }
    function tick() {
      if (document.hidden) { window.setTimeout(tick, FEED_EVERY); return; }
      fetch(url, {headers: {Accept: "text/html"}, credentials: "same-origin"})
        // Redirected means logged out: never swap the login page into the dashboard.
        .then(function (r) { return r.ok && !r.redirected ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          swap(html);
          var arrived = Array.prototype.filter.call(box.querySelectorAll(".feed-item"),
            function (li) { return !known[li.id]; });
          arrived.forEach(function (li) { li.classList.add("new"); });
          remember();
          if (announce && arrived.length) {
            announce.textContent = arrived.length === 1 ? WORDS.new_payment + " " +
              arrived[0].querySelector(".feed-main").textContent.replace(/\s+/g, " ").trim()
              : WORDS.new_payments.replace("{count}", arrived.length);
          }
          window.setTimeout(tick, FEED_EVERY);
        })
        .catch(function () { window.setTimeout(tick, FEED_EVERY * 6); });
    }
    window.setTimeout(tick, FEED_EVERY);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var live = document.getElementById("live");
    if (live) { watchSteps(live); }
    if (live && live.getAttribute("data-pending") === "true") { pollStatus(live); }
    var checks = document.getElementById("missed-payments");
    if (checks) {
      watchSteps(checks);
      var checksLive = checks.querySelector("#missed-payments-live");
      if (checksLive && checksLive.getAttribute("data-pending") === "true") { pollChecks(checks); }
    }
    var dashboard = document.getElementById("dashboard-live");
    if (dashboard) { pollDashboard(dashboard); }
  });
})();
