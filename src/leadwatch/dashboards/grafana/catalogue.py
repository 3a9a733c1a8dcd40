"""The four dashboards of the brief, on leadwatch's metric names (PromQL) and, for
what Prometheus cannot hold (paths, addresses, money), SQL on the PostgreSQL event
and record stores.

Every expression here is run against a real Prometheus scraping leadwatch and
every SQL query against a real PostgreSQL by tests/dashboards/test_grafana.py.
"""

from __future__ import annotations

from leadwatch.dashboards.grafana.model import Dashboard, Panel, Query, Row

RATE = "$__rate_interval"
RANGE = "$__range"
REQUESTS = "leadwatch_http_requests_total"
DURATION = "leadwatch_http_request_duration_seconds_bucket"
VITALS = {"LCP": "leadwatch_web_vitals_lcp_seconds", "INP": "leadwatch_web_vitals_inp_seconds",
          "CLS": "leadwatch_web_vitals_cls"}
RED, AMBER, GREEN = "red", "orange", "green"
# Stat, gauge, bar and pie panels show each series' latest value.
LAST_VALUE = {"reduceOptions": {"calcs": ["lastNotNull"]}}


def increase(metric: str, by: str = "", matchers: str = "") -> str:
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (increase({metric}{{{matchers}}}[{RANGE}]))"


def latency(q: float, by: str = "") -> str:
    grouping = f", {by}" if by else ""
    return f"histogram_quantile({q}, sum by (le{grouping}) (rate({DURATION}[{RATE}])))"


def vital_p75(name: str, by: str = "") -> str:
    grouping = f", {by}" if by else ""
    return f"histogram_quantile(0.75, sum by (le{grouping}) (rate({VITALS[name]}_bucket[{RATE}])))"


ERROR_SHARE = (f'sum(rate({REQUESTS}{{status=~"5.."}}[{RATE}])) / sum(rate({REQUESTS}[{RATE}]))')
SERVED_OK = (f'1 - (sum(increase({REQUESTS}{{status=~"5.."}}[{RANGE}])) or vector(0)) '
             f"/ sum(increase({REQUESTS}[{RANGE}]))")
CONVERSION = (f"sum(increase(leadwatch_leads_submitted_total[{RANGE}])) "
              f"/ sum(increase(leadwatch_page_views_total[{RANGE}]))")
LATENCY_STEPS = ((None, GREEN), (0.5, AMBER), (1.0, RED))
VITAL_STEPS = {"LCP": ((None, GREEN), (2.5, AMBER), (4.0, RED)),
               "INP": ((None, GREEN), (0.2, AMBER), (0.5, RED)),
               "CLS": ((None, GREEN), (0.1, AMBER), (0.25, RED))}

PAGE_VIEWS_PER_DAY = (
    "SELECT $__timeGroupAlias(ts, '1d'), count(*) AS \"page views\", "
    "count(DISTINCT session_id) AS \"sessions\" FROM events "
    "WHERE type = 'pageview' AND $__timeFilter(ts) GROUP BY 1 ORDER BY 1"
)
LANDING_PAGES = (
    "SELECT path AS \"page\", count(*) AS \"page views\", count(DISTINCT session_id) AS \"sessions\" "
    "FROM events WHERE type = 'pageview' AND $__timeFilter(ts) "
    "GROUP BY path ORDER BY 2 DESC LIMIT 20"
)
SESSIONS_BY_CHANNEL = (
    "SELECT $__timeGroupAlias(ts, '1h'), coalesce(channel, 'Unassigned') AS metric, "
    "count(DISTINCT session_id) AS value FROM events "
    "WHERE type = 'pageview' AND $__timeFilter(ts) GROUP BY 1, 2 ORDER BY 1"
)
# The money panels read the record store's leads and marketing_spend tables. A lead
# counts as the UI counts it: accepted (not rejected), created in [from, to), so the
# range is half-open like the UI's rather than $__timeFilter's BETWEEN.
LEADS_IN_RANGE = (
    "FROM leads WHERE rejected_reason IS NULL "
    "AND created_at >= $__timeFrom() AND created_at < $__timeTo()"
)
WON_VALUE = f"SELECT coalesce(sum(won_value), 0) AS \"won value\" {LEADS_IN_RANGE} AND status = 'won'"
WON_VALUE_PER_DAY = (
    f"SELECT $__timeGroupAlias(created_at, '1d'), coalesce(sum(won_value), 0) AS \"won value\" "
    f"{LEADS_IN_RANGE} AND status = 'won' GROUP BY 1 ORDER BY 1"
)
LEAD_OUTCOMES = (
    "SELECT count(*) FILTER (WHERE status = 'won') AS \"won\", "
    "count(*) FILTER (WHERE status = 'lost') AS \"lost\", "
    f"count(*) FILTER (WHERE status NOT IN ('won', 'lost')) AS \"open\" {LEADS_IN_RANGE}"
)
# A spend line's amount is spread evenly over its whole UTC days (marketing/spend.py):
# the range gets amount x (seconds of the line's days it covers) / (the line's seconds).
_LINE_START = "(first_day::timestamp AT TIME ZONE 'UTC')"
_LINE_END = "((last_day + 1)::timestamp AT TIME ZONE 'UTC')"
# Per channel, as the built-in Channel ROI table (marketing/roi.py) with the channel
# stored on the lead (see CHANNEL_ROI_CREDIT), and a Total row.
CHANNEL_ROI = (
    "WITH spend AS ("
    "SELECT channel, sum(amount * greatest(extract(epoch FROM "
    f"least($__timeTo()::timestamptz, {_LINE_END}) - greatest($__timeFrom()::timestamptz, {_LINE_START})), 0) "
    "/ ((last_day - first_day + 1) * 86400)) AS spend FROM marketing_spend "
    f"WHERE {_LINE_START} < $__timeTo() AND {_LINE_END} > $__timeFrom() GROUP BY channel), "
    "credit AS ("
    "SELECT coalesce(channel, 'Direct') AS channel, count(*) AS leads, "
    "count(*) FILTER (WHERE status = 'won') AS won, "
    "coalesce(sum(won_value) FILTER (WHERE status = 'won'), 0) AS value "
    f"{LEADS_IN_RANGE} GROUP BY 1), "
    "joined AS ("
    "SELECT coalesce(s.channel, c.channel) AS channel, coalesce(s.spend, 0) AS spend, "
    "coalesce(c.leads, 0) AS leads, coalesce(c.won, 0) AS won, coalesce(c.value, 0) AS value "
    "FROM spend s FULL JOIN credit c ON c.channel = s.channel) "
    "SELECT CASE WHEN grouping(channel) = 1 THEN 'Total' ELSE channel END AS \"channel\", "
    "sum(spend) AS \"spend\", sum(leads) AS \"leads\", sum(won) AS \"won leads\", "
    "sum(value) AS \"won value\", sum(spend) / nullif(sum(leads), 0) AS \"cost per lead\", "
    "sum(value) / nullif(sum(spend), 0) AS \"ROAS\", "
    "(sum(value) - sum(spend)) / nullif(sum(spend), 0) AS \"ROI\" "
    "FROM joined GROUP BY GROUPING SETS ((channel), ()) "
    "ORDER BY grouping(channel), 2 DESC, 3 DESC, 1"
)
CHANNEL_ROI_CREDIT = (
    "Credit goes to the channel stored on each lead (the first touch of its attribution "
    "token, else the channel of the submission itself), not to an attribution model: "
    "it equals the UI's Channel ROI for leads without a journey or with one of a single "
    "channel within the attribution lookback."
)
# What Grafana's PostgreSQL role needs for every SQL panel: the events, the spend and,
# of the leads, only the columns the panels read (no names, addresses or messages).
READER_GRANTS = (
    "GRANT SELECT ON events, marketing_spend TO grafana",
    "GRANT SELECT (created_at, status, rejected_reason, channel, won_value) ON leads TO grafana",
)
MONEY = "In the site's currency (marketing.sites.<site>.currency), every site together."

OFFENDING_ADDRESSES = (
    "SELECT props ->> 'ip' AS \"address\", count(*) AS \"events\", "
    "string_agg(DISTINCT name, ', ') AS \"threats\", max(ts) AS \"last seen\" FROM events "
    "WHERE type = 'security' AND props ->> 'ip' IS NOT NULL AND $__timeFilter(ts) "
    "GROUP BY 1 ORDER BY 2 DESC LIMIT 20"
)

EXECUTIVE = Dashboard(
    uid="leadwatch-executive",
    title="leadwatch / Executive",
    description="Leads, won value, conversion, availability and Core Web Vitals at a glance.",
    time_from="now-7d",
    rows=(
        Row("Today's business", (
            Panel("Leads", "stat", (Query(increase("leadwatch_leads_submitted_total")),),
                  description="Leads accepted in the selected range."),
            Panel("Leads per page view", "stat", (Query(CONVERSION),), unit="percentunit",
                  steps=((None, RED), (0.015, AMBER), (0.03, GREEN)),
                  description="Accepted leads divided by page views; the target is 3 %."),
            Panel("Requests served without error", "stat", (Query(SERVED_OK),), unit="percentunit",
                  steps=((None, RED), (0.99, AMBER), (0.999, GREEN))),
            Panel("Synthetic journeys passing", "stat",
                  (Query(f"avg(avg_over_time(leadwatch_probe_success[{RANGE}]))"),),
                  unit="percentunit", steps=((None, RED), (0.95, AMBER), (0.99, GREEN))),
        )),
        Row("Revenue (PostgreSQL)", (
            Panel("Won value", "stat", (Query(WON_VALUE, sql=True),), unit="none",
                  description="Sum of the deal values of the range's leads that were won, as the UI's "
                              f"Won value (by the lead's creation time). {MONEY}"),
            Panel("Leads won, lost and open", "stat", (Query(LEAD_OUTCOMES, sql=True),),
                  description="The range's leads by outcome; open (new, contacted or qualified) is the "
                              "pipeline. leadwatch defines no expected value for an open lead, so the "
                              "pipeline is counted, not valued."),
            Panel("Won value per day", "timeseries", (Query(WON_VALUE_PER_DAY, sql=True),), unit="none",
                  width=12, description=f"Won deal values by the UTC day the lead came in. {MONEY}"),
        )),
        Row("Leads", (
            Panel("Leads per hour by tier", "timeseries",
                  (Query("sum by (tier) (increase(leadwatch_leads_submitted_total[1h]))", "{{tier}}"),),
                  width=12, stacked=True),
            Panel("Lead sources", "piechart",
                  (Query(increase("leadwatch_leads_submitted_total", "channel"), "{{channel}}"),),
                  width=6, options=LAST_VALUE),
            Panel("Lead quality", "bargauge",
                  (Query(increase("leadwatch_leads_submitted_total", "tier"), "{{tier}}"),),
                  width=6, options=LAST_VALUE),
        )),
        Row("Experience", (
            *(Panel(f"{name} p75", "stat", (Query(vital_p75(name)),),
                    unit="none" if name == "CLS" else "s", steps=VITAL_STEPS[name], width=4)
              for name in VITALS),
            Panel("Page views and sessions per day", "timeseries", (Query(PAGE_VIEWS_PER_DAY, sql=True),),
                  width=12),
        )),
    ),
)

OPERATIONS = Dashboard(
    uid="leadwatch-operations",
    title="leadwatch / Technical Operations",
    description="Rate, errors and latency of every leadwatch replica; ingest and storage.",
    time_from="now-6h",
    rows=(
        Row("Service health", (
            Panel("Replicas up", "stat", (Query('sum(up{job="leadwatch"})'),), width=4,
                  steps=((None, RED), (1, GREEN))),
            Panel("Request rate", "stat", (Query(f"sum(rate({REQUESTS}[{RATE}]))"),), unit="reqps",
                  width=5),
            Panel("Error rate (5xx)", "stat", (Query(ERROR_SHARE),), unit="percentunit", width=5,
                  steps=((None, GREEN), (0.01, AMBER), (0.05, RED))),
            Panel("Latency p95", "stat", (Query(latency(0.95)),), unit="s", width=5,
                  steps=LATENCY_STEPS),
            Panel("Synthetic journeys", "stat",
                  (Query("min by (journey) (leadwatch_probe_success)", "{{journey}}"),),
                  width=5, steps=((None, RED), (1, GREEN)),
                  options={**LAST_VALUE, "colorMode": "background"}),
        )),
        Row("Requests", (
            Panel("Requests per second by status", "timeseries",
                  (Query(f"sum by (status) (rate({REQUESTS}[{RATE}]))", "{{status}}"),),
                  unit="reqps", width=12, stacked=True),
            Panel("Latency", "timeseries",
                  tuple(Query(latency(q), f"p{round(q * 100)}") for q in (0.5, 0.9, 0.95, 0.99)),
                  unit="s", width=12),
            Panel("Error rate by route", "timeseries",
                  (Query(f'sum by (route) (rate({REQUESTS}{{status=~"5.."}}[{RATE}])) '
                         f"/ sum by (route) (rate({REQUESTS}[{RATE}]))", "{{route}}"),),
                  unit="percentunit", width=12),
            Panel("Latency p95 by route", "timeseries", (Query(latency(0.95, "route"), "{{route}}"),),
                  unit="s", width=12),
        )),
        Row("Ingest and storage", (
            Panel("Events received and dropped", "timeseries", (
                Query(f"sum(rate(leadwatch_events_received_total[{RATE}]))", "received"),
                Query(f"sum by (reason) (rate(leadwatch_events_dropped_total[{RATE}]))",
                      "dropped: {{reason}}"),
            ), unit="eps", width=8),
            Panel("Events written", "timeseries",
                  (Query(f"sum by (table) (rate(leadwatch_events_written_total[{RATE}]))", "{{table}}"),),
                  unit="eps", width=8),
            Panel("Write buffer depth", "timeseries",
                  (Query("sum by (table) (leadwatch_write_buffer_depth)", "{{table}}"),), width=8),
            Panel("Flush duration p95", "timeseries", (Query(
                "histogram_quantile(0.95, sum by (le, table) "
                f"(rate(leadwatch_write_buffer_flush_duration_seconds_bucket[{RATE}])))", "{{table}}"),),
                unit="s", width=8),
            Panel("Log lines by outcome", "timeseries",
                  (Query(f"sum by (outcome) (rate(leadwatch_log_lines_total[{RATE}]))", "{{outcome}}"),),
                  width=8),
            Panel("Notifications", "timeseries", (
                Query(f"sum by (receiver) (rate(leadwatch_notifications_sent_total[{RATE}]))",
                      "sent: {{receiver}}"),
                Query(f"sum by (receiver) (rate(leadwatch_notification_failures_total[{RATE}]))",
                      "failed: {{receiver}}"),
            ), width=8),
        )),
        Row("Process", (
            Panel("CPU", "timeseries",
                  (Query(f'rate(process_cpu_seconds_total{{job="leadwatch"}}[{RATE}])', "{{instance}}"),),
                  unit="percentunit", width=8),
            Panel("Resident memory", "timeseries",
                  (Query('process_resident_memory_bytes{job="leadwatch"}', "{{instance}}"),),
                  unit="bytes", width=8),
            Panel("Requests in flight", "timeseries",
                  (Query("sum by (instance) (leadwatch_http_requests_in_flight)", "{{instance}}"),),
                  width=8),
        )),
    ),
)

MARKETING = Dashboard(
    uid="leadwatch-marketing",
    title="leadwatch / Marketing Intelligence",
    description="Traffic, leads and channel ROI by channel and device, landing pages and Web Vitals.",
    time_from="now-7d",
    rows=(
        Row("Channels", (
            Panel("Page views by channel", "timeseries",
                  (Query(f"sum by (channel) (rate(leadwatch_page_views_total[{RATE}]))", "{{channel}}"),),
                  unit="short", width=12, stacked=True),
            Panel("Leads by channel and tier", "barchart",
                  (Query(increase("leadwatch_leads_submitted_total", "channel, tier"),
                         "{{channel}} / {{tier}}"),),
                  width=12, options=LAST_VALUE),
            Panel("Leads per page view by channel", "bargauge", (Query(
                increase("leadwatch_leads_submitted_total", "channel")
                + " / " + increase("leadwatch_page_views_total", "channel"), "{{channel}}"),),
                unit="percentunit", width=12, steps=((None, RED), (0.015, AMBER), (0.03, GREEN)),
                options=LAST_VALUE),
            Panel("Page views by device", "piechart",
                  (Query(increase("leadwatch_page_views_total", "device"), "{{device}}"),),
                  width=6, options=LAST_VALUE),
            Panel("Lead score median", "stat", (Query(
                f"histogram_quantile(0.5, sum by (le) (rate(leadwatch_lead_score_bucket[{RANGE}])))"),),
                width=6),
        )),
        Row("Sessions and landing pages (PostgreSQL)", (
            Panel("Sessions by channel", "timeseries", (Query(SESSIONS_BY_CHANNEL, sql=True),),
                  width=12, stacked=True),
            Panel("Landing pages", "table", (Query(LANDING_PAGES, sql=True),), width=12),
        )),
        Row("Channel ROI (PostgreSQL)", (
            Panel("Channel ROI", "table", (Query(CHANNEL_ROI, sql=True),), width=24,
                  description="Per channel: spend entered through the spend API prorated to the range by "
                              "day, leads, won leads, won value, cost per lead, ROAS = value / spend and "
                              f"ROI = (value - spend) / spend. {CHANNEL_ROI_CREDIT} Budgets from settings "
                              f"are not in the database and not counted. {MONEY}"),
        )),
        Row("Core Web Vitals (p75 by device)", tuple(
            Panel(f"{name} p75", "timeseries", (Query(vital_p75(name, "device"), "{{device}}"),),
                  unit="none" if name == "CLS" else "s", steps=VITAL_STEPS[name], width=8)
            for name in VITALS
        )),
    ),
)

SECURITY = Dashboard(
    uid="leadwatch-security",
    title="leadwatch / Security",
    description="Detections and responses, incidents, bans and the addresses behind them.",
    rows=(
        Row("Now", (
            Panel("Open incidents", "stat",
                  (Query("sum by (severity) (leadwatch_security_incidents_open)", "{{severity}}"),),
                  width=8, steps=((None, GREEN), (1, RED)),
                  options=LAST_VALUE),
            Panel("Active bans", "stat", (Query("max(leadwatch_ip_bans_active)"),), width=8),
            Panel("Security events", "stat", (Query(increase("leadwatch_security_events_total")),),
                  width=8),
        )),
        Row("Threats", (
            Panel("Events by threat", "timeseries", (Query(
                f"sum by (threat) (rate(leadwatch_security_events_total[{RATE}]))", "{{threat}}"),),
                width=12, stacked=True),
            Panel("Events by action", "piechart",
                  (Query(increase("leadwatch_security_events_total", "action"), "{{action}}"),),
                  width=6, options=LAST_VALUE),
            Panel("Requests refused", "bargauge",
                  (Query(increase("leadwatch_security_refused_requests_total", "reason"), "{{reason}}"),),
                  width=6, options=LAST_VALUE),
            Panel("Top offending addresses", "table", (Query(OFFENDING_ADDRESSES, sql=True),), width=24),
        )),
    ),
)

DASHBOARDS: dict[str, Dashboard] = {
    "executive": EXECUTIVE,
    "technical-operations": OPERATIONS,
    "marketing-intelligence": MARKETING,
    "security": SECURITY,
}
