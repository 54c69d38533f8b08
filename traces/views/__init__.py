"""The drill-down pages, one module per object: conversations, runs (and their tabs), tasks, model calls."""
