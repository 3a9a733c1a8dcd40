"""Real-user monitoring: the /lw.js snippet and the POST /collect ingest pipeline
(parse, validate, drop bots, enrich, sessionise, buffer), cookieless visitor keys."""
