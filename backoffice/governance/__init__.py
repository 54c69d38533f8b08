"""Workspace governance, the pages under /w/<workspace>/settings/ (admins only): members and roles, API
keys, model prices and cost recompute, redaction rules, retention and the audit log. One module per
page, sharing forms.py; the work they start lives beside the models it changes (backoffice.cost_recompute,
backoffice.retention, backoffice.audit)."""
