from django.urls import path

from . import audit, keys, members, prices, redaction, retention

app_name = "governance"

urlpatterns = [
    path("", members.settings_index, name="index"),
    path("members/", members.member_list, name="members"),
    path("members/add/", members.member_add, name="member_add"),
    path("members/create/", members.member_create, name="member_create"),
    path(
        "members/invitations/<int:invitation_id>/revoke/",
        members.invitation_revoke,
        name="invitation_revoke",
    ),
    path("members/<int:member_id>/role/", members.member_role, name="member_role"),
    path("members/<int:member_id>/remove/", members.member_remove, name="member_remove"),
    path("keys/", keys.key_list, name="keys"),
    path("keys/new/", keys.key_create, name="key_create"),
    path("keys/<int:key_id>/revoke/", keys.key_revoke, name="key_revoke"),
    path("prices/", prices.price_list, name="prices"),
    path("prices/new/", prices.price_create, name="price_create"),
    path("prices/<int:price_id>/delete/", prices.price_delete, name="price_delete"),
    path("prices/recompute/", prices.recompute_start, name="recompute_start"),
    path("prices/recompute/<int:job_id>/", prices.recompute_detail, name="recompute_detail"),
    path("prices/recompute/<int:job_id>/step/", prices.recompute_step, name="recompute_step"),
    path("redaction/", redaction.redaction_list, name="redaction"),
    path("redaction/new/", redaction.redaction_create, name="redaction_create"),
    path("redaction/test/", redaction.redaction_test, name="redaction_test"),
    path("redaction/<int:rule_id>/toggle/", redaction.redaction_toggle, name="redaction_toggle"),
    path("redaction/<int:rule_id>/delete/", redaction.redaction_delete, name="redaction_delete"),
    path("retention/", retention.retention_edit, name="retention"),
    path("audit/", audit.audit_list, name="audit"),
]
