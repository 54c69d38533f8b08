"""Send a small conversation and a workflow run to a local Backoffice with the Python client.

    .venv/bin/python manage.py create_api_key --workspace acme --label examples   # prints the key
    BACKOFFICE_URL=http://127.0.0.1:8000 BACKOFFICE_API_KEY=bo_… python examples/send_events.py

The client is one standard-library file, traces/client.py: this script imports it from the
checkout; an agent elsewhere can copy the file and `import backoffice_client as bo` instead.
"""

import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from traces import client as bo  # noqa: E402 - after the path is set

bo.configure(agent_id="support-bot")  # BACKOFFICE_URL and BACKOFFICE_API_KEY come from the environment
if not bo.default_client().enabled:
    sys.exit("Set BACKOFFICE_URL and BACKOFFICE_API_KEY (see the docstring).")

conversation = f"demo-{uuid.uuid4().hex[:8]}"
turns = [
    ("Where is my order A-1?", {"status": "shipped", "eta": "tomorrow"}, "It shipped and arrives tomorrow."),
    ("Can I change the delivery address?", {"status": "in transit"}, "Not while it is in transit, sorry."),
]

# A conversation: one run per user turn, each with a tool step and a model call inside an agent step.
for question, order, answer in turns:
    with bo.run("support", session_id=conversation, user_id="customer-42", input=question) as run:
        bo.message("user", question)
        with bo.span("answer", type="agent") as agent:
            with bo.span("get_order", type="tool", input={"order": "A-1"}) as tool:
                time.sleep(0.05)
                tool.output = order
            bo.model_call(
                "gpt-4o-mini",
                provider="openai",
                prompt_tokens=180,
                completion_tokens=24,
                latency_ms=640,
                request=[{"role": "user", "content": question}],
                response={"role": "assistant", "content": answer},
            )
            agent.output = answer
        bo.message("assistant", answer)
        bo.track("question_answered", {"topic": "delivery", "escalated": False})
        run.output = answer

# A workflow run, as an engine would log it through DataStorage and TaskLogger.
storage = bo.DataStorage()
run_id = f"refund-{uuid.uuid4().hex[:8]}"
graph = {
    "nodes": [{"id": "intake"}, {"id": "check_policy"}, {"id": "approve", "type": "gate"}, {"id": "refund"}],
    "edges": [
        {"source": "intake", "target": "check_policy"},
        {"source": "check_policy", "target": "approve"},
        {"source": "approve", "target": "refund"},
    ],
}
storage.initialize_run(
    run_id, workflow="refund", session_id=conversation, input={"order": "A-1"}, graph=graph
)
tasks = bo.TaskLogger(run_id)
tasks.log_node("intake", "ok", input={"order": "A-1"}, output={"amount": 42.0})
storage.save_state(run_id, {"amount": 42.0}, trace=["intake"])
check = tasks.log_node("check_policy", "running")
tasks.log_model_call("gpt-4o-mini", step_id=check, prompt_tokens=320, completion_tokens=12, latency_ms=510)
tasks.log_node("check_policy", "ok", output={"eligible": True})
tasks.log_node("approve", "approved", type="gate")
tasks.log_node("refund", "failed", type="connector", error="payments API answered 503")
storage.save_state(
    run_id, {"amount": 42.0, "refunded": False}, trace=["intake", "check_policy", "approve", "refund"]
)
storage.update_run(run_id, "failed", error="payments API answered 503")
tasks.close()

print(f"Conversation {conversation}: {len(turns)} runs. Workflow run {run_id}.")
print(f"State read back: {storage.load_state(run_id)}")
print(f"Chat history: {len(storage.get_chat_history(conversation))} messages.")
print(f"Client stats: {bo.default_client().stats.as_dict()}")
print(f"Follow it: .venv/bin/python manage.py logs --session {conversation}")
