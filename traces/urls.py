from django.urls import path

from .views import conversations, model_calls, runs, tasks

app_name = "traces"

urlpatterns = [
    path("conversations/", conversations.session_list, name="session_list"),
    path("conversations/<str:session_id>/", conversations.session_detail, name="session_detail"),
    path("runs/", runs.run_list, name="run_list"),
    path("runs/<str:run_id>/", runs.run_tasks, name="run_detail"),
    path("runs/<str:run_id>/tasks/", runs.run_tasks, name="run_tasks"),
    path("runs/<str:run_id>/chat/", runs.run_chat, name="run_chat"),
    path("runs/<str:run_id>/events/", runs.run_events, name="run_events"),
    path("runs/<str:run_id>/state/", runs.run_state, name="run_state"),
    path("runs/<str:run_id>/tasks/<path:task_id>/", tasks.task_detail, name="task_detail"),
    path("model-calls/", model_calls.model_call_list, name="model_call_list"),
]
