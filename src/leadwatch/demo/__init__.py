"""The demo: the "Reboot Media" marketing site under /demo/ and the traffic simulator
that feeds it realistic visitors, Web Vitals and leads (``leadwatch serve --demo``).
Every demo row carries the demo site id, so ``leadwatch demo reset`` removes it all."""
