"""Grafana dashboards for stack mode, generated from one catalogue and committed
under deploy/grafana/dashboards (a test fails when the files drift)."""
