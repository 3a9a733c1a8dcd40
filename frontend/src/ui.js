// The dashboards' browser code: htmx for refreshes and ECharts for charts.
// Charts are described by the server as JSON in data-chart attributes (no inline
// script, so the pages work under a strict Content-Security-Policy); this file
// draws them on load and after every htmx swap, and disposes the replaced ones.
import htmx from "htmx.org";
import * as echarts from "echarts/core";
import { BarChart, LineChart, PieChart } from "echarts/charts";
import {
  DatasetComponent, GridComponent, LegendComponent, TooltipComponent,
} from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([
  BarChart, LineChart, PieChart, DatasetComponent, GridComponent, LegendComponent,
  TooltipComponent, CanvasRenderer,
]);
window.htmx = htmx;

function draw(root) {
  for (const el of root.querySelectorAll("[data-chart]")) {
    if (echarts.getInstanceByDom(el)) continue;
    const chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(JSON.parse(el.dataset.chart));
  }
}

function dispose(root) {
  for (const el of root.querySelectorAll("[data-chart]")) {
    echarts.getInstanceByDom(el)?.dispose();
  }
}

// Changing a control applies it at once (the Apply button remains for no-JS use).
function autoSubmit() {
  for (const form of document.querySelectorAll("form.controls")) {
    form.addEventListener("change", (event) => {
      const custom = event.target.name === "from" || event.target.name === "to";
      if (custom) form.elements.range.value = "custom";
      form.requestSubmit();
    });
  }
}

document.addEventListener("DOMContentLoaded", () => { draw(document); autoSubmit(); });
document.addEventListener("htmx:beforeSwap", (event) => dispose(event.detail.target));
document.addEventListener("htmx:afterSettle", () => draw(document));
window.addEventListener("resize", () => {
  for (const el of document.querySelectorAll("[data-chart]")) echarts.getInstanceByDom(el)?.resize();
});

// Log in through the security API (JSON), then open the page that was asked for.
function login() {
  const form = document.getElementById("login");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("login-error");
    error.textContent = "";
    const body = JSON.stringify({
      username: form.elements.username.value, password: form.elements.password.value,
    });
    const response = await fetch(form.action, {
      method: "POST", body, credentials: "same-origin", headers: { "Content-Type": "application/json" },
    });
    if (response.ok) {
      window.location.assign(form.dataset.next);
      return;
    }
    const answer = await response.json().catch(() => ({}));
    error.textContent = answer.error?.message || `Login failed (${response.status})`;
  });
}

function logout() {
  for (const button of document.querySelectorAll("[data-logout]")) {
    button.addEventListener("click", async () => {
      await fetch("/api/v1/session", {
        method: "DELETE", credentials: "same-origin", headers: { "X-CSRF-Token": button.dataset.csrf },
      });
      window.location.assign("/ui/login");
    });
  }
}

document.addEventListener("DOMContentLoaded", () => { login(); logout(); });

// The Logs live tail: the poller (#tail-poll) prepends new lines; Pause cancels its
// requests (its cursor stays, so resuming brings what came meanwhile) and the list
// is trimmed to its data-tail-max newest lines.
let tailPaused = false;

function liveTail() {
  const toggle = document.getElementById("tail-toggle");
  if (!toggle) return;
  toggle.addEventListener("click", () => {
    tailPaused = !tailPaused;
    toggle.setAttribute("aria-pressed", String(tailPaused));
    toggle.textContent = tailPaused ? "Resume" : "Pause";
    document.getElementById("tail-status").textContent = tailPaused ? "Paused." : "Following.";
  });
}

document.addEventListener("htmx:beforeRequest", (event) => {
  if (tailPaused && event.detail.elt.id === "tail-poll") event.preventDefault();
});
document.addEventListener("htmx:afterSwap", (event) => {
  const list = event.detail.target;
  if (list.id !== "tail-lines") return;
  const max = Number(list.dataset.tailMax);
  while (list.children.length > max) list.lastElementChild.remove();
});
document.addEventListener("DOMContentLoaded", liveTail);
