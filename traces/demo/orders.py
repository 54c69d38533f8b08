"""The order-validation workflow: a declared graph with condition, switch, foreach and parallel steps,
retries, and a manager approval gate for large orders."""

import itertools
from datetime import timedelta

from .llm import CLAUDE_SONNET_4, llm_call
from .story import Critique
from .support import PRODUCTS

AGENT_ID = "order-validation"
WORKFLOW = "order_validation"
APPROVAL_THRESHOLD = 1000
REGIONS = {"EU": ("EUR", 0.21), "US": ("USD", 0.0725), "UK": ("GBP", 0.20)}
CUSTOMERS = {
    "EU": ["Nordlicht Hotels GmbH", "Café Lumière SARL", "Studio Verde BV", "Casa Aurelia SRL"],
    "US": ["Blue Harbor Supplies", "Pinecrest Dental Group", "Redwood Coworking LLC"],
    "UK": ["Kestrel & Finch Ltd", "Harbourside Offices Ltd", "The Brass Lantern Pub Co"],
}
SOURCES = {"shop-api": 5, "b2b-portal": 3, "edi": 2}
APPROVERS = ["Julia Martin", "Amaka Okafor", "Liang Chen"]
APPROVE_COMMENTS = [
    "Known customer, volume matches last quarter.",
    "Called the customer to confirm the delivery address.",
    "Fine: prepaid by bank transfer.",
    "OK for this quarter's fit-out project.",
]
REJECT_COMMENTS = [
    "Shipping address differs from billing and the card is new; ask for prepayment.",
    "Quantity looks like a typo (48 instead of 4); asked sales to confirm with the customer.",
    "Credit limit would be exceeded; needs a finance sign-off first.",
]
# A fixed cycle, so that every seed and scale shows each outcome of the gate.
GATE_OUTCOMES = ["approved", "waiting", "rejected", "approved", "approved", "rejected", "waiting", "approved"]

NODES = [
    ("receive_order", "function"),
    ("validate_order", "function"),
    ("check_customer", "condition"),
    ("kyc_check", "connector"),
    ("route_region", "switch"),
    ("tax_eu", "function"),
    ("tax_us", "function"),
    ("tax_uk", "function"),
    ("check_items", "foreach"),
    ("check_item", "function"),
    ("risk_checks", "parallel"),
    ("fraud_score", "connector"),
    ("credit_check", "connector"),
    ("inventory_check", "connector"),
    ("needs_approval", "condition"),
    ("draft_approval_note", "llm"),
    ("manager_approval", "gate"),
    ("finalize_order", "function"),
    ("reject_order", "function"),
    ("notify_customer", "tool"),
]
EDGES = [
    ("receive_order", "validate_order", None),
    ("validate_order", "check_customer", None),
    ("check_customer", "route_region", "known customer"),
    ("check_customer", "kyc_check", "new customer"),
    ("kyc_check", "route_region", None),
    ("route_region", "tax_eu", "EU"),
    ("route_region", "tax_us", "US"),
    ("route_region", "tax_uk", "UK"),
    ("tax_eu", "check_items", None),
    ("tax_us", "check_items", None),
    ("tax_uk", "check_items", None),
    ("check_items", "check_item", "each line"),
    ("check_items", "risk_checks", "done"),
    ("risk_checks", "fraud_score", None),
    ("risk_checks", "credit_check", None),
    ("risk_checks", "inventory_check", None),
    ("fraud_score", "needs_approval", None),
    ("credit_check", "needs_approval", None),
    ("inventory_check", "needs_approval", None),
    ("needs_approval", "draft_approval_note", f"total over {APPROVAL_THRESHOLD:,}"),
    ("needs_approval", "finalize_order", "auto-approve"),
    ("draft_approval_note", "manager_approval", None),
    ("manager_approval", "finalize_order", "approved"),
    ("manager_approval", "reject_order", "rejected"),
    ("finalize_order", "notify_customer", None),
    ("reject_order", "notify_customer", None),
]
GRAPH = {
    "nodes": [{"id": node, "name": node, "type": type_} for node, type_ in NODES],
    "edges": [
        {"source": source, "target": target, **({"label": label} if label else {})}
        for source, target, label in EDGES
    ],
}


def sku(name):
    return "NW-" + "".join(word[0] for word in name.upper().split()[:3]) + "-01"


class OrderRun:
    """One order through the workflow. `trace` is the list of visited nodes, checkpointed as it grows."""

    def __init__(self, story):
        rng = story.rng
        self.story = story
        self.rng = rng
        self.region = rng.choice(list(REGIONS))
        self.currency, self.tax_rate = REGIONS[self.region]
        self.customer = rng.choice(CUSTOMERS[self.region])
        self.known = rng.random() < 0.8
        self.order_id = f"SO-{rng.randint(200000, 299999)}"
        self.lines = []
        for _ in range(rng.choices([1, 2, 3, 4, 5], weights=[20, 30, 25, 15, 10])[0]):
            product, price = rng.choice(PRODUCTS)
            quantity = rng.choices([1, 2, 3, 4, 6, 10], weights=[30, 25, 15, 12, 10, 8])[0]
            self.lines.append(
                {"sku": sku(product), "name": product, "quantity": quantity, "unit_price": price}
            )
        self.total = round(sum(line["quantity"] * line["unit_price"] for line in self.lines), 2)
        # What goes wrong is drawn up front, so that the gate's outcomes go only to orders that reach it.
        self.invalid = rng.random() < 0.05
        self.credit_timeout = rng.random() < 0.03
        self.inventory_flaky = rng.random() < 0.12
        self.gate_outcome = None
        self.run = None
        self.trace = []
        self.state = {"order_id": self.order_id, "customer": self.customer, "region": self.region}
        self.state.update(total=self.total, currency=self.currency, status="received")

    def visit(self, name, type_, *, parent=None, input=None, attempt=None):
        if name not in self.trace:
            self.trace.append(name)
        return self.run.step(name, type_, parent=parent, input=input, attempt=attempt)

    def checkpoint(self, **state):
        self.state.update(state)
        self.run.checkpoint(dict(self.state), self.trace)

    @property
    def reaches_gate(self):
        return self.total > APPROVAL_THRESHOLD and not self.invalid and not self.credit_timeout

    def play(self, at, gate_outcome=None, *, live=False):
        self.gate_outcome = gate_outcome
        self.run = run = self.story.run(AGENT_ID, at)
        rng = self.rng
        run.start(
            workflow=WORKFLOW,
            input={
                "order_id": self.order_id,
                "customer": {"name": self.customer, "known": self.known},
                "lines": self.lines,
                "currency": self.currency,
                "total": self.total,
            },
            metadata={"source": rng.choices(list(SOURCES), weights=list(SOURCES.values()))[0]},
            tags=[self.region, self.currency],
            graph=GRAPH,
        )
        self.simple("receive_order", "function", {"order_id": self.order_id, "lines": len(self.lines)}, 5, 40)
        if not self.validate():
            return
        self.route_customer()
        self.route_region()
        self.check_items(live=live)
        if live:
            return
        if not self.risk_checks():
            return
        if self.total > APPROVAL_THRESHOLD:
            self.approval()
        else:
            step = self.visit("needs_approval", "condition", input={"total": self.total})
            run.wait(1, 4)
            run.ok(step, {"result": False, "threshold": APPROVAL_THRESHOLD})
            self.finish("auto_approved")

    def simple(self, name, type_, output, low_ms, high_ms, **kwargs):
        step = self.visit(name, type_, **kwargs)
        self.run.wait(low_ms, high_ms)
        self.run.ok(step, output)
        return step

    def validate(self):
        run = self.run
        step = self.visit("validate_order", "function", input={"lines": len(self.lines)})
        run.wait(20, 120)
        if self.invalid:
            line = self.rng.randrange(len(self.lines))
            error = {
                "type": "ValidationError",
                "message": f"Unknown SKU 'NW-XQ{self.rng.randint(10, 99)}-02' on line {line + 1}",
                "field": f"lines[{line}].sku",
            }
            run.failed(step, error)
            self.checkpoint(status="invalid")
            run.fail(error)
            return False
        run.ok(step, {"valid": True, "warnings": []})
        self.checkpoint(status="validated")
        return True

    def route_customer(self):
        run = self.run
        step = self.visit("check_customer", "condition", input={"customer": self.customer})
        run.wait(10, 60)
        run.ok(step, {"result": "known customer" if self.known else "new customer"})
        if not self.known:
            self.simple(
                "kyc_check",
                "connector",
                {"verified": True, "provider": "kyc-service", "risk": "low"},
                400,
                2200,
            )

    def route_region(self):
        step = self.visit("route_region", "switch", input={"region": self.region})
        self.run.wait(1, 5)
        self.run.ok(step, {"branch": self.region})
        tax = round(self.total * self.tax_rate, 2)
        self.simple(f"tax_{self.region.lower()}", "function", {"rate": self.tax_rate, "tax": tax}, 5, 30)

    def check_items(self, *, live):
        """A foreach over the order lines: one child step per line. A live run stops half-way."""
        run = self.run
        parent = self.visit("check_items", "foreach", input={"items": len(self.lines)})
        for index, line in enumerate(self.lines):
            if live and index == len(self.lines) // 2:
                return
            self.simple(
                "check_item",
                "function",
                {"sku": line["sku"], "in_catalog": True, "price_matches": True},
                15,
                90,
                parent=parent,
                input={"line": index + 1, "sku": line["sku"], "quantity": line["quantity"]},
            )
        run.ok(parent, {"checked": len(self.lines), "flagged": 0})
        self.checkpoint(status="items_checked", items_checked=len(self.lines))

    def risk_checks(self):
        """Three checks in parallel branches; inventory is flaky and retried, credit sometimes times out."""
        run, rng = self.run, self.rng
        parent = self.visit("risk_checks", "parallel", input={"branches": 3})
        begin = run.now
        flaky, fatal = self.inventory_flaky, self.credit_timeout
        fraud = round(rng.uniform(0.01, 0.35), 3)
        branches = [
            ("fraud_score", (200, 900), {"score": fraud, "model": "risk-v3"}, None),
            ("credit_check", (400, 1500), {"limit": 25000, "available": rng.randint(3000, 24000)}, fatal),
            (
                "inventory_check",
                (150, 700),
                {"all_in_stock": True, "warehouse": f"WH-{self.region}-1"},
                flaky,
            ),
        ]
        ends = []
        for name, (low, high), output, trouble in branches:
            run.now = begin + timedelta(milliseconds=rng.randint(1, 8))
            ends.append(self.branch(parent, name, low, high, output, trouble, fatal=name == "credit_check"))
        run.now = max(ends) + timedelta(milliseconds=rng.randint(2, 10))
        if fatal:
            error = {"type": "TimeoutError", "message": "credit-bureau did not answer after 2 attempts"}
            run.failed(parent, error)
            self.checkpoint(status="risk_check_failed")
            run.fail(error)
            return False
        run.ok(parent, {"fraud_score": fraud, "credit_ok": True, "in_stock": True})
        self.checkpoint(status="risk_checked", risk={"fraud_score": fraud, "credit_ok": True})
        return True

    def branch(self, parent, name, low, high, output, trouble, *, fatal):
        """One parallel branch on its own clock; a troubled one fails once and is tried again."""
        run = self.run
        step = self.visit(name, "connector", parent=parent, input={"order_id": self.order_id})
        if trouble:
            run.wait(low, high)
            error = (
                {"type": "TimeoutError", "message": "credit-bureau did not answer within 3 s"}
                if fatal
                else {"type": "HTTPError", "status": 503, "message": "inventory-service: Service Unavailable"}
            )
            run.failed(step, error)
            run.wait(500, 1500)
            step = self.visit(name, "connector", parent=parent, input={"order_id": self.order_id}, attempt=2)
            run.wait(low, high)
            if fatal:
                run.failed(step, error)
                return run.now
        else:
            run.wait(low, high)
        run.ok(step, output)
        return run.now

    def approval(self):
        run, rng = self.run, self.rng
        step = self.visit("needs_approval", "condition", input={"total": self.total})
        run.wait(1, 4)
        run.ok(step, {"result": True, "threshold": APPROVAL_THRESHOLD})
        note = self.draft_note()
        gate = self.visit("manager_approval", "gate")
        run.gate("waiting", gate, name="manager_approval", assignees=["ops-leads"], note=note)
        self.checkpoint(status="awaiting_approval")
        run.pause(f"Waiting for manager approval: total {self.total:,.2f} {self.currency} is over the limit")
        if self.gate_outcome == "waiting":
            return
        available = (self.story.anchor - run.now).total_seconds() / 60 - 2
        minutes = min(
            rng.choice([rng.randint(3, 40), rng.randint(30, 240), rng.randint(120, 600)]), available
        )
        run.wait(int(max(minutes, 1) * 60_000))
        approver = rng.choice(APPROVERS)
        approved = self.gate_outcome == "approved"
        comment = rng.choice(APPROVE_COMMENTS if approved else REJECT_COMMENTS)
        run.gate(
            "approved" if approved else "rejected",
            gate,
            name="manager_approval",
            approver=approver,
            comment=comment,
        )
        run.resume(f"{'Approved' if approved else 'Rejected'} by {approver}")
        self.state["approval"] = {"by": approver, "decision": self.gate_outcome, "comment": comment}
        self.finish(self.gate_outcome, approval_minutes=round(minutes, 1))
        self.story.critique(
            run.run_id,
            run.now,
            Critique(
                bad="The approval note left out that the customer is new and KYC only passed today."
                if not self.known
                else "The approval note did not give the credit headroom the approver asked for.",
                corrected=f"{self.customer} ({'known customer' if self.known else 'new, KYC passed'}) "
                f"ordered {len(self.lines)} lines for {self.total:,.2f} {self.currency}. "
                "Fraud score low; credit OK.",
                good="The note gave the approver the customer, amount and risk in two lines.",
                tags=["approval-note"],
            ),
        )

    def draft_note(self):
        run, rng = self.run, self.rng
        step = self.visit(
            "draft_approval_note", "llm", input={"order_id": self.order_id, "total": self.total}
        )
        note = (
            f"{self.customer} ordered {len(self.lines)} line(s) for {self.total:,.2f} {self.currency}. "
            f"{'Known customer' if self.known else 'New customer, KYC passed'}; "
            "fraud score low; credit available."
        )
        body, latency = llm_call(
            rng,
            self.story.ids,
            CLAUDE_SONNET_4,
            step_id=step,
            messages=[
                {
                    "role": "system",
                    "content": "Summarise this order for an approving manager in two sentences.",
                },
                {
                    "role": "user",
                    "content": str({k: self.state[k] for k in ("customer", "total", "currency")}),
                },
            ],
            reply=note,
            prompt_tokens=rng.randint(600, 900) + 40 * len(self.lines),
            completion_tokens=rng.randint(45, 80),
        )
        run.llm(body, latency)
        run.ok(step, {"note": note})
        return note

    def finish(self, decision, **properties):
        run, rng = self.run, self.rng
        if decision == "rejected":
            self.simple("reject_order", "function", {"status": "rejected"}, 10, 60)
        else:
            self.simple(
                "finalize_order",
                "function",
                {"status": "confirmed", "erp_id": f"ERP-{rng.randint(10**6, 10**7)}"},
                80,
                400,
            )
        self.trace.append("notify_customer")
        template = "order_rejected" if decision == "rejected" else "order_confirmed"
        step = run.tool("notify_customer", {"template": template, "order_id": self.order_id})
        run.wait(120, 600)
        run.tool_ok(step, {"message_id": f"<{self.story.ids.hex(12)}@mail>", "status": "queued"})
        self.checkpoint(status=decision)
        run.complete(
            {"order_id": self.order_id, "decision": decision, "total": self.total, "currency": self.currency}
        )
        run.track(
            "order_validated",
            {
                "order_id": self.order_id,
                "amount": self.total,
                "currency": self.currency,
                "region": self.region,
                "decision": decision,
                "lines": len(self.lines),
                **properties,
            },
        )


def build(story):
    story.upsert_agent(
        story.anchor - timedelta(days=15),
        agent_id=AGENT_ID,
        name="Order Validation",
        description="Checks B2B orders: catalogue, tax, fraud, credit and stock; "
        "orders over 1,000 need a manager.",
        mode="full",
    )
    outcomes = itertools.cycle(GATE_OUTCOMES)
    orders = story.count(60)
    for index in range(orders):
        order = OrderRun(story)
        live = index == orders - 1
        outcome = next(outcomes) if order.reaches_gate and not live else None
        if live:
            at = story.recent_time(2, 5)
        elif outcome == "waiting":
            # Nobody has looked at it yet: recent, still paused at the gate.
            at = story.recent_time(20, 36 * 60)
        else:
            at = story.start_time(margin=timedelta(minutes=30))
        order.play(at, outcome, live=live)
