"""The profile page: a user's own preferences (their time zone), the same in every workspace."""

from zoneinfo import available_timezones

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from .access import workspace_view
from .models import Profile
from .timezones import COOKIE, remember_profile_zone, zone_named

BROWSER = ""


class ProfileForm(forms.ModelForm):
    time_zone = forms.ChoiceField(
        required=False,
        help_text="Times on every page show in this zone; UTC stays on hover.",
    )

    class Meta:
        model = Profile
        fields = ["time_zone"]

    def __init__(self, *args, browser_zone=None, **kwargs):
        super().__init__(*args, **kwargs)
        browser = f"The browser's ({browser_zone})" if browser_zone else "The browser's"
        # "localtime" and the like are names of the server's own files, not zones to pick.
        zones = sorted(name for name in available_timezones() if "/" in name or name == "UTC")
        self.fields["time_zone"].choices = [(BROWSER, browser), *((name, name) for name in zones)]


@require_http_methods(["GET", "POST"])
@workspace_view()
def profile_edit(request):
    profile = Profile.objects.filter(user=request.user).first() or Profile(user=request.user)
    browser_zone = zone_named(request.COOKIES.get(COOKIE))
    form = ProfileForm(request.POST or None, instance=profile, browser_zone=browser_zone)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            remember_profile_zone(request.session, profile.time_zone)
            messages.success(request, "Profile saved.")
            return redirect("profile", workspace=request.workspace.slug)
        status = 400
    else:
        status = 200
    context = {"form": form, "now": timezone.now(), "zone": timezone.get_current_timezone_name()}
    return render(request, "backoffice/profile.html", context, status=status)
