// What caused a Web Vital's value, from the web-vitals attribution build: the element
// and the phase (the largest part of the time) that made a slow LCP or INP.
const PHASES = {
  LCP: ["timeToFirstByte", "resourceLoadDelay", "resourceLoadDuration", "elementRenderDelay"],
  INP: ["inputDelay", "processingDuration", "presentationDelay"],
  FCP: ["timeToFirstByte", "firstByteToFCP"],
  TTFB: ["waitingDuration", "cacheDuration", "dnsDuration", "connectionDuration", "requestDuration"],
};
const TARGETS = { LCP: "element", INP: "interactionTarget", CLS: "largestShiftTarget" };

export function summarise(metric) {
  const a = metric.attribution || {};
  const props = { rating: metric.rating, nav: metric.navigationType };
  const target = a[TARGETS[metric.name]];
  if (target) props.target = String(target).slice(0, 200);
  const phases = PHASES[metric.name];
  if (phases) {
    let worst = null;
    for (const phase of phases) {
      if (typeof a[phase] === "number") {
        props[phase] = Math.round(a[phase]);
        if (worst === null || a[phase] > a[worst]) worst = phase;
      }
    }
    if (worst) props.phase = worst;
  }
  if (a.interactionType) props.interaction = a.interactionType;
  if (a.loadState) props.load = a.loadState;
  if (a.url && metric.name === "LCP") props.resource = String(a.url).slice(0, 200);
  return props;
}
