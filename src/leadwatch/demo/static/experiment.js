// The demo site's A/B test: tell /lw.js which variant this page shows. Runs before
// /lw.js (deferred scripts run in order), so it uses the queue /lw.js replays on load.
(function (script) {
  var call = ["experiment", script.getAttribute("data-experiment"), script.getAttribute("data-variant")];
  var lw = window.lw || (window.lw = { q: [] });
  if (lw.q) lw.q.push(call);
  else lw.apply(null, call);
})(document.currentScript);
