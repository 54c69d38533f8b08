from django.urls import path

from .reviews import views as reviews
from .search import views as search
from .views import conversations, graphs, model_calls, playback, replays, runs, saved_views, tasks, workspace

app_name = "traces"

urlpatterns = [
    path("conversations/", conversations.session_list, name="session_list"),
    path("conversations/<str:session_id>/", conversations.session_detail, name="session_detail"),
    path("conversations/<str:session_id>/playback/", playback.session_playback, name="session_playback"),
    path("runs/", runs.run_list, name="run_list"),
    # Before the run's own URLs: "compare" is the page's name, not a run id.
    path("runs/compare/", replays.run_compare, name="run_compare"),
    path("runs/<str:run_id>/", workspace.run_tasks, name="run_detail"),
    path("runs/<str:run_id>/replay/", replays.run_replay, name="run_replay"),
    path("runs/<str:run_id>/tasks/", workspace.run_tasks, name="run_tasks"),
    path("runs/<str:run_id>/chat/", runs.run_chat, name="run_chat"),
    path("runs/<str:run_id>/events/", runs.run_events, name="run_events"),
    path("runs/<str:run_id>/state/", runs.run_state, name="run_state"),
    path("runs/<str:run_id>/playback/", playback.run_playback, name="run_playback"),
    path("runs/<str:run_id>/tasks/<path:task_id>/", tasks.task_detail, name="task_detail"),
    path("model-calls/", model_calls.model_call_list, name="model_call_list"),
    path("runs/<str:run_id>/review/", reviews.run_review, name="run_review"),
    path("runs/<str:run_id>/review/create/", reviews.review_create, name="review_create"),
    path("runs/<str:run_id>/scores/", reviews.run_score, name="run_score"),
    path("reviews/", reviews.review_list, name="review_list"),
    path("reviews/stats/", reviews.review_stats, name="review_stats"),
    path("reviews/export.jsonl", reviews.review_export, name="review_export"),
    path(
        "reviews/evaluation.jsonl",
        reviews.review_evaluation,
        {"file_format": "jsonl"},
        name="review_evaluation_jsonl",
    ),
    path(
        "reviews/evaluation.csv",
        reviews.review_evaluation,
        {"file_format": "csv"},
        name="review_evaluation_csv",
    ),
    path("reviews/<int:review_id>/", reviews.review_detail, name="review_detail"),
    path("reviews/<int:review_id>/edit/", reviews.review_update, name="review_update"),
    path("reviews/<int:review_id>/status/", reviews.review_status, name="review_status"),
    path("reviews/<int:review_id>/delete/", reviews.review_delete, name="review_delete"),
    path("runs/<str:run_id>/dag/", graphs.run_dag, name="run_dag"),
    path("runs/<str:run_id>/timeline/", graphs.run_timeline, name="run_timeline"),
    path("workflows/<path:workflow>/dag/", graphs.workflow_dag, name="workflow_dag"),
    path("search/", search.search, name="search"),
    path("views/", saved_views.saved_view_list, name="saved_view_list"),
    path("views/create/", saved_views.saved_view_create, name="saved_view_create"),
    path("views/<int:view_id>/", saved_views.saved_view_update, name="saved_view_update"),
    path("views/<int:view_id>/delete/", saved_views.saved_view_delete, name="saved_view_delete"),
]
