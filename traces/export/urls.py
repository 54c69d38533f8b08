from django.urls import path

from . import views

app_name = "export"

urlpatterns = [
    path("", views.exporter_list, name="exporters"),
    path("<int:exporter_id>/", views.exporter_edit, name="exporter_edit"),
    path("<int:exporter_id>/delete/", views.exporter_delete, name="exporter_delete"),
]
