"""Run metadata, session, user and tags from whichever span of a trace carries them: OpenInference's
`metadata`, `session.id`, `user.id` and `tag.tags`, OpenLLMetry's association properties, Langfuse's
trace metadata. The frameworks' own keys (ls_*, lc_*, langgraph_*, checkpoint_*) are not run metadata."""

import json

from tests.otel import recording_tracer
from tests.traces.test_otlp_api import OtlpTestCase
from traces.models import Run


class TraceMetadataTest(OtlpTestCase):
    def run_of(self, root=None, child=None):
        tracer, exporter = recording_tracer()
        with (
            tracer.start_as_current_span("agent", attributes=root or {}),
            tracer.start_as_current_span("ChatOpenAI", attributes=child or {}),
        ):
            pass
        self.send(exporter.get_finished_spans())
        return Run.objects.select_related("session").get(workspace=self.workspace)

    def test_openinference_metadata_on_a_child_span_is_the_runs_without_the_frameworks_keys(self):
        metadata = {
            "plan": "pro",
            "ls_provider": "openai",
            "lc_versions": {"langchain-core": "1.0"},
            "langgraph_node": "agent",
            "checkpoint_ns": "agent:1",
        }
        run = self.run_of(child={"metadata": json.dumps(metadata)})
        self.assertEqual(run.metadata["plan"], "pro")
        self.assertFalse(
            {"ls_provider", "lc_versions", "langgraph_node", "checkpoint_ns"} & set(run.metadata)
        )

    def test_session_user_and_tags_on_a_child_span_are_the_runs(self):
        child = {"session.id": "conv-9", "user.id": "ann", "tag.tags": ["vip"]}
        run = self.run_of(child=child)
        self.assertEqual((run.session.session_id, run.user_id, run.tags), ("conv-9", "ann", ["vip"]))

    def test_traceloop_association_properties_name_the_session_the_user_and_the_metadata(self):
        prefix = "traceloop.association.properties."
        child = {f"{prefix}session_id": "conv-7", f"{prefix}user_id": "bob", f"{prefix}region": "eu"}
        run = self.run_of(child=child)
        self.assertEqual((run.session.session_id, run.user_id), ("conv-7", "bob"))
        self.assertEqual(run.metadata["region"], "eu")
        self.assertNotIn("session_id", run.metadata)

    def test_langfuse_trace_metadata_on_any_span_and_the_roots_observation_metadata(self):
        run = self.run_of(
            root={"langfuse.observation.metadata.step": json.dumps("intake")},
            child={
                "langfuse.trace.metadata.team": json.dumps("support"),
                "langfuse.observation.metadata.x": "1",
            },
        )
        self.assertEqual((run.metadata["team"], run.metadata["step"]), ("support", "intake"))
        self.assertNotIn("x", run.metadata)  # a child's own observation metadata stays its own

    def test_the_root_spans_value_wins_over_a_childs(self):
        run = self.run_of(
            root={"metadata": '{"plan": "pro"}'}, child={"metadata": '{"plan": "free", "a": 1}'}
        )
        self.assertEqual((run.metadata["plan"], run.metadata["a"]), ("pro", 1))
