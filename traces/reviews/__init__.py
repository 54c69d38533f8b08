"""QA: one review ticket per run and its workflow, the queue and its filters, review figures, the training
export, the review pages and the /api/v1/reviews API.

- tickets: what a review may hold, where its status may go, the activity log;
- queries: the one fetch helper, the queue filters and keyset pages; stats: the figures;
- export: resolved reviews as fine-tuning JSONL; forms, views, api, template_filters: the pages and the API.
"""
