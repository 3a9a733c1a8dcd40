"""The built-in web UI under ``/ui/`` and the generated Grafana dashboards.

Pages are server-rendered (Jinja2) and refreshed by htmx; charts are ECharts
options built here as JSON and drawn by the bundled ``ui.js``. The numbers behind
each panel come from small query modules in ``queries/`` (or from the capability
that owns them), never from the templates.
"""
