"""Lead capture: intake of contact-form submissions (JSON and HTML forms), defence
against spam and attacks, scoring into tiers, follow-up due times in business hours,
routing of the best leads to sales, and the admin API and CLI over the stored leads."""
