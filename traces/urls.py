app_name = "traces"

urlpatterns = []
