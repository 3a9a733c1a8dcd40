"""Enrichment shared by every ingest path: user agents and bots, geolocation."""
