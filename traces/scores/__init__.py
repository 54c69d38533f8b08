"""Scores: named values given to runs, their tasks, conversations and chat messages, checked against
the workspace's score configs. `records` writes them (the API, the Langfuse endpoints and the Review
tab share it), `configs` checks configs, `queries` finds scores and runs by score, `agreement` says how
often reviewers agree."""
