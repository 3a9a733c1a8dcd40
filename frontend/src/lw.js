// The /lw.js entry point: our tracker plus the web-vitals attribution build.
// <script defer src="https://HOST/lw.js" data-site="SITE"></script>
import { onCLS, onFCP, onINP, onLCP, onTTFB } from "web-vitals/attribution";
import { createTracker } from "./tracker.js";
import { summarise } from "./vitals.js";

(function () {
  const script = document.currentScript || document.querySelector("script[data-site]");
  // window.lw may be the page's queue ({q: [...]} or a stub function with .q); only a
  // second copy of this script finds the real one.
  if (!script || (window.lw && window.lw.ready)) return;
  const tracker = createTracker(script);
  const queued = (window.lw && window.lw.q) || [];
  window.lw = function (command, a, b) {
    if (command === "consent") tracker.setConsent(a);
    else if (command === "experiment") tracker.experiment(a, b);
  };
  window.lw.ready = true;
  queued.forEach((args) => window.lw.apply(null, args));
  if (tracker.gpc) return;
  tracker.start();
  const report = (metric) =>
    tracker.push({ type: "vital", name: metric.name, value: metric.value, props: summarise(metric) });
  onLCP(report);
  onINP(report);
  onCLS(report);
  onFCP(report);
  onTTFB(report);
})();
