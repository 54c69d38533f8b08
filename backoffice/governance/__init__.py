"""Settings pages for workspace admins: members, API keys, model prices, redaction, retention, audit log."""
