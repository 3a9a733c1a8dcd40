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

// A failed action (a 409 because a colleague resolved the incident first, a 422 naming
// the field, a 403 after the session changed) says why at the top of the page instead of
// doing nothing. JSON errors carry error.message; the UI's HTML error pages a ".error".
function problemText(xhr) {
  const type = xhr.getResponseHeader("content-type") || "";
  try {
    if (type.includes("json")) return JSON.parse(xhr.responseText).error.message;
    if (type.includes("html")) {
      const doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      return doc.querySelector(".error").textContent;
    }
  } catch { /* fall through to the status line */ }
  return `${xhr.status} ${xhr.statusText}`;
}

function showProblem(text) {
  const page = document.getElementById("page");
  if (!page) return;
  let box = document.getElementById("problem");
  if (!box) {
    box = document.createElement("p");
    box.id = "problem";
    box.className = "problem";
    box.setAttribute("role", "alert");
    page.prepend(box);
  }
  box.textContent = text;
}

document.addEventListener("htmx:responseError", (event) => {
  const xhr = event.detail.xhr;
  if (xhr.getResponseHeader("HX-Redirect")) return; // htmx goes to the login page itself
  if (event.detail.elt.id === "page") return; // a failed refresh keeps the page as it was
  showProblem(problemText(xhr));
});
document.addEventListener("htmx:sendError", (event) => {
  if (event.detail.elt.id !== "page") showProblem("leadwatch did not answer: check the connection and try again.");
});
