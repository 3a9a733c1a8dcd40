// leadwatch's own browser code: page views (with SPA navigation), engagement, outbound
// and download clicks, form start/submit, first-input delay, batching and sending,
// consent and Global Privacy Control, A/B test exposures, and the hidden
// attribution_token and exp_<name> fields in forms.
// Web Vitals come from the web-vitals package (see lw.js). Kept under 4 KB gzipped
// (npm run size); no cookies are ever set.

const FLUSH_MS = 5000;
const TOKEN_KEY = "lw_token";
const KEY = /^[\w.:-]{1,64}$/; // experiment names and variants, as lead intake takes them
const DOWNLOAD = /\.(pdf|zip|rar|7z|gz|tgz|dmg|exe|msi|csv|xlsx?|docx?|pptx?|odt|ods|txt|epub|mp3|mp4|mov)$/i;

export function createTracker(script) {
  const site = script.getAttribute("data-site") || "default";
  const endpoint = new URL("/collect", script.src).href + "?site=" + encodeURIComponent(site);
  const consentRequired = script.getAttribute("data-consent") === "required";
  const gpc = navigator.globalPrivacyControl === true;
  let consent = !consentRequired;
  let queue = [];
  let waiting = []; // events held until consent is given
  let token = null;
  let timer = 0;
  let lastPath = null;
  let active = 0;
  let activeSince = document.visibilityState === "visible" ? Date.now() : 0;
  let maxScroll = 0;
  const started = new WeakSet();
  const assigned = Object.create(null); // experiment -> variant, written into forms
  let exposed = Object.create(null); // experiments already reported in this page view
  let held = []; // exposures before the first page view, sent right after it

  try {
    if (consent) token = localStorage.getItem(TOKEN_KEY);
  } catch (e) {}

  function pageUrl(full) {
    return full ? location.href : location.origin + location.pathname;
  }

  function push(event, urgent) {
    if (gpc) return; // the visitor asked not to be tracked: nothing leaves the page
    event.url = event.url || pageUrl(false);
    if (!consent) {
      waiting.push(event);
      return;
    }
    queue.push(event);
    if (urgent) flush(false);
    else if (!timer) timer = setTimeout(() => flush(false), FLUSH_MS);
  }

  function consented() {
    return endpoint + (consentRequired ? "&c=1" : "");
  }

  function send(batch, readToken, retried) {
    const body = JSON.stringify(batch);
    if (!readToken && navigator.sendBeacon) {
      if (navigator.sendBeacon(consented(), new Blob([body], { type: "text/plain" }))) return;
    }
    fetch(consented(), {
      method: "POST",
      body,
      keepalive: body.length < 60000,
      credentials: "omit",
      headers: { "Content-Type": "text/plain" },
    })
      .then((r) => (r.status === 202 ? r.json() : Promise.reject(r.status)))
      .then((answer) => answer.token && remember(answer.token))
      .catch((status) => {
        // One retry for a failed send (network error or 5xx); a 4xx would fail again.
        if (!retried && !(status >= 400 && status < 500)) setTimeout(() => send(batch, readToken, true), 1000);
      });
  }

  function flush(hiding) {
    clearTimeout(timer);
    timer = 0;
    if (!queue.length) return;
    const batch = queue.splice(0, 50);
    // A batch with a page view is sent with fetch to read the attribution token back.
    const wantsToken = !hiding && batch.some((e) => e.type === "pageview");
    send(batch, wantsToken, false);
    if (queue.length) flush(hiding);
  }

  function remember(value) {
    token = value;
    try {
      if (consent) localStorage.setItem(TOKEN_KEY, value);
    } catch (e) {}
    fillForms();
  }

  function setField(form, name, value) {
    let field = form.querySelector('input[name="' + name + '"]');
    if (!field) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = name;
      form.appendChild(field);
    }
    field.value = value;
  }

  function fillForms() {
    for (const form of document.forms) {
      if (token) setField(form, "attribution_token", token);
      for (const name in assigned) setField(form, "exp_" + name, assigned[name]);
    }
  }

  function whenReady(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn);
    else fn();
  }

  function experiment(name, variant) {
    if (name == null || variant == null) return;
    name = String(name); // a tool may give variants as numbers
    variant = String(variant);
    if (!KEY.test(name) || !KEY.test(variant)) return;
    // The form carries the assignment even under GPC: it describes the page, not the visitor.
    assigned[name] = variant;
    whenReady(fillForms);
    if (exposed[name] === variant) return;
    exposed[name] = variant;
    const event = { type: "experiment", name, props: { variant } };
    // A batch's first event must be its page view (it starts the session with its channel).
    if (lastPath) push(event);
    else held.push(event);
  }

  function engagement() {
    if (activeSince) active += Date.now() - activeSince;
    activeSince = document.visibilityState === "visible" ? Date.now() : 0;
    if (active > 0 && lastPath) {
      push({ type: "engagement", value: active, props: { scroll: maxScroll } });
    }
    active = 0;
    maxScroll = 0;
  }

  function pageview() {
    if (location.pathname === lastPath) return;
    if (lastPath) {
      engagement();
      exposed = Object.create(null);
    }
    lastPath = location.pathname;
    const event = { type: "pageview", url: pageUrl(true), title: document.title.slice(0, 300) };
    // Only the landing page's referrer says where the visitor came from.
    if (document.referrer && !started.has(document)) event.referrer = document.referrer;
    started.add(document);
    if (token) event.token = token;
    push(event);
    held.forEach((e) => push(e));
    held = [];
    flush(false);
  }

  function formName(form) {
    return form.id || form.getAttribute("name") || new URL(form.action || location.href).pathname;
  }

  function onScroll() {
    const doc = document.documentElement;
    const seen = (window.scrollY + window.innerHeight) / Math.max(doc.scrollHeight, 1);
    maxScroll = Math.max(maxScroll, Math.min(100, Math.round(seen * 100)));
  }

  function onClick(e) {
    const link = e.target.closest && e.target.closest("a[href]");
    if (!link) return;
    const url = new URL(link.href, location.href);
    if (link.hasAttribute("download") || DOWNLOAD.test(url.pathname)) {
      push({ type: "download", name: url.pathname.split("/").pop().slice(0, 128), props: { href: url.href } }, true);
    } else if (url.host !== location.host && /^https?:$/.test(url.protocol)) {
      push({ type: "outbound", name: url.host, props: { href: url.origin + url.pathname } }, true);
    }
  }

  function onFormInput(e) {
    const form = e.target.form;
    if (!form || started.has(form)) return;
    started.add(form);
    push({ type: "form_start", name: formName(form) });
  }

  function onSubmit(e) {
    fillForms();
    push({ type: "form_submit", name: formName(e.target) }, true);
  }

  function watchHistory() {
    for (const method of ["pushState", "replaceState"]) {
      const original = history[method];
      history[method] = function () {
        const result = original.apply(this, arguments);
        pageview();
        return result;
      };
    }
    addEventListener("popstate", pageview);
  }

  function firstInput() {
    try {
      new PerformanceObserver((list) => {
        const entry = list.getEntries()[0];
        if (!entry) return;
        const delay = entry.processingStart - entry.startTime;
        push({ type: "vital", name: "FID", value: delay, props: { rating: delay <= 100 ? "good" : delay <= 300 ? "needs-improvement" : "poor", event: entry.name } });
      }).observe({ type: "first-input", buffered: true });
    } catch (e) {}
  }

  function setConsent(granted) {
    consent = !!granted;
    if (consent) {
      const held = waiting;
      waiting = [];
      held.forEach((event) => push(event));
      flush(false);
      if (token) remember(token);
    } else {
      waiting = [];
      try {
        localStorage.removeItem(TOKEN_KEY);
      } catch (e) {}
    }
  }

  function start() {
    addEventListener("scroll", onScroll, { passive: true });
    document.addEventListener("click", onClick, true);
    document.addEventListener("input", onFormInput, true);
    document.addEventListener("submit", onSubmit, true);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") {
        engagement();
        flush(true);
      } else activeSince = Date.now();
    });
    addEventListener("pagehide", () => flush(true));
    watchHistory();
    firstInput();
    onScroll();
    pageview();
    whenReady(fillForms);
  }

  return { push, start, setConsent, experiment, gpc };
}
