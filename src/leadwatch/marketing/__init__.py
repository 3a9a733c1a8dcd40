"""Marketing analytics: channels, attribution touches and tokens, conversion, the funnel,
attribution models, Web Vitals queries and the ``/api/v1/analytics`` API."""
