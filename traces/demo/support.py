"""The support concierge: multi-turn chats with end users, tool calls and structured replies."""

import re
from dataclasses import dataclass, field
from datetime import timedelta

from .llm import CLAUDE_SONNET_4, GPT_4O, GPT_4O_MINI, llm_call, rate_limited
from .story import Critique

AGENT_ID = "support-concierge"
WORKFLOW = "support_chat"
PROMPT_VERSION = "support-v14"
SYSTEM_PROMPT = (
    "You are Nova, the support concierge of Northwind Home. Be warm and brief. Use the tools to look up "
    "orders, refunds and help-centre articles; never invent order details. Refunds over 500 EUR and "
    "account security questions go to a human."
)
CHANNELS = {"web": 5, "whatsapp": 3, "ios": 2, "android": 2}
CHANNEL_NAMES = {
    "web": "the website",
    "whatsapp": "WhatsApp",
    "ios": "the iOS app",
    "android": "the Android app",
}
PRODUCTS = [
    ("Nimbus 2 robot vacuum", 349.00),
    ("Kettle Pro 1.7L", 59.90),
    ("Luma desk lamp", 79.00),
    ("Orbit wireless earbuds", 129.00),
    ("Breeze air purifier", 219.00),
    ("Halo smart thermostat", 189.00),
    ("AeroPress Go coffee maker", 44.95),
    ("Atlas 28-inch suitcase", 259.00),
    ("Vento standing fan", 99.00),
    ("Cirrus blender", 89.90),
]
CARRIERS = ["DHL", "UPS", "DPD", "PostNL", "GLS"]
STREETS = [
    "Keizersgracht 221, Amsterdam",
    "Rue Oberkampf 54, Paris",
    "Torstrasse 140, Berlin",
    "Via Tortona 31, Milan",
]
KB_ARTICLES = {
    "product": [
        ("KB-1042", "Using Northwind appliances abroad: voltage and plugs"),
        ("KB-1107", "Warranty: what is covered and for how long"),
        ("KB-0988", "Cleaning and descaling your kettle"),
        ("KB-1210", "Pairing Orbit earbuds with two devices"),
    ],
    "login": [
        ("KB-0311", "I can't sign in to my account"),
        ("KB-0315", "Resetting your password"),
        ("KB-0342", "Two-step verification codes not arriving"),
    ],
}
# How long each tool takes to answer, in ms.
TOOL_LATENCY = {
    "lookup_order": (120, 650),
    "update_address": (150, 500),
    "refund": (600, 2400),
    "create_replacement": (300, 900),
    "search_kb": (80, 300),
    "send_password_reset": (200, 700),
    "handoff_to_human": (100, 400),
    "get_subscription": (90, 350),
    "cancel_subscription": (250, 800),
    "pause_subscription": (250, 800),
    "issue_voucher": (200, 600),
}
TRANSIENT_ERROR = {
    "type": "TimeoutError",
    "message": "orders-api did not answer within 5.0 s",
    "retryable": True,
}
POKES = ["Hello??", "Are you still there?", "Hi? I'm waiting for an answer", "?"]
THANKS = [
    "Ok, thanks!",
    "Great, thank you so much",
    "Perfect, that's all I needed",
    "Thanks Nova 👍",
    "Got it, cheers",
]


@dataclass
class ToolUse:
    name: str
    args: dict
    result: dict | None = None
    error: dict | None = None  # a failure the agent reports to the user
    flaky: bool = False  # a transient failure first, then the same call succeeds


@dataclass
class Turn:
    user: str
    reply: str | dict
    tools: list = field(default_factory=list)
    note: str = ""  # a system turn after the reply, e.g. a hand-off


@dataclass
class Scenario:
    topic: str
    turns: list
    outcome: str  # resolved, escalated or abandoned
    critique: Critique


def buttons(text, *labels):
    return {
        "type": "buttons",
        "text": text,
        "buttons": [
            {"label": label, "value": re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")}
            for label in labels
        ],
    }


def money(amount):
    return f"€{amount:,.2f}"


@dataclass
class Order:
    order_id: str
    product: str
    quantity: int
    amount: float
    carrier: str
    tracking: str
    eta: str
    status: str

    def as_result(self):
        return {
            "order_id": self.order_id,
            "status": self.status,
            "items": [{"name": self.product, "quantity": self.quantity}],
            "total": {"amount": self.amount, "currency": "EUR"},
            "carrier": self.carrier,
            "tracking_number": self.tracking,
            "estimated_delivery": self.eta,
        }


def make_order(rng, at, status="shipped"):
    product, price = rng.choice(PRODUCTS)
    quantity = rng.choice([1, 1, 1, 2])
    eta = at + timedelta(days=rng.randint(1, 4))
    return Order(
        order_id=f"NW-{rng.randint(100000, 999999)}",
        product=product,
        quantity=quantity,
        amount=round(price * quantity, 2),
        carrier=rng.choice(CARRIERS),
        tracking=f"{rng.randint(10**11, 10**12 - 1)}",
        eta=f"{eta:%A} {eta.day} {eta:%B}",
        status=status,
    )


# -- scenarios: what the user asks and how the concierge answers ----------------------------------


def order_status(rng, at):
    order = make_order(rng, at)
    lookup = ToolUse(
        "lookup_order", {"order_id": order.order_id}, order.as_result(), flaky=rng.random() < 0.08
    )
    ask = rng.choice(
        [
            "Hi, where is my order {}?",
            "Hello! My order {} hasn't arrived yet, can you check?",
            "Any update on {}? It's been a few days.",
            "When will {} be delivered?",
        ]
    )
    turns = [
        Turn(
            ask.format(order.order_id),
            buttons(
                f"Good news: {order.order_id} ({order.product}) left our warehouse and is on its way with "
                f"{order.carrier}. It should arrive on {order.eta}.",
                "Track package",
                "Change delivery",
                "Talk to a person",
            ),
            [lookup],
        )
    ]
    if rng.random() < 0.6:
        street = rng.choice(STREETS)
        turns.append(
            Turn(
                f"Can you send it to my office instead? {street}",
                f"I'm sorry, {order.order_id} has already been handed to {order.carrier}, so I can't change "
                f"the address from here. You can redirect it on the {order.carrier} site with tracking "
                f"number {order.tracking}.",
                [
                    ToolUse(
                        "update_address",
                        {"order_id": order.order_id, "address": street},
                        error={"code": "ORDER_ALREADY_SHIPPED", "message": "Address is locked once shipped"},
                    )
                ],
            )
        )
    resolved = rng.random() < 0.75
    if resolved:
        turns.append(Turn(rng.choice(THANKS), "You're welcome! Enjoy your order 😊"))
    return Scenario(
        "order_status",
        turns,
        "resolved" if resolved else "abandoned",
        Critique(
            bad="Stated the delivery date as certain and did not share the "
            "tracking number in the first reply.",
            corrected=f"Your order {order.order_id} is on its way with {order.carrier} (tracking "
            f"{order.tracking}). The carrier expects to deliver it on {order.eta}.",
            good="Looked the order up before answering and gave carrier, date and next steps.",
            tags=["delivery"],
            turn=1,
        ),
    )


def refund(rng, at):
    order = make_order(rng, at - timedelta(days=rng.randint(3, 12)), status="delivered")
    problem = rng.choice(["arrived damaged", "stopped working after two days", "is missing a part"])
    turns = [
        Turn(
            f"The {order.product} I received {problem}. I'd like a refund. Order {order.order_id}.",
            buttons(
                f"I'm sorry your {order.product} {problem}. I can sort this out right "
                "away. What would you prefer?",
                "Refund to my card",
                "Send a replacement",
                "Store credit (+10%)",
            ),
            [
                ToolUse(
                    "lookup_order", {"order_id": order.order_id}, order.as_result(), flaky=rng.random() < 0.08
                )
            ],
        )
    ]
    if rng.random() < 0.65:
        refund_id = f"rf_{rng.randint(10**7, 10**8 - 1)}"
        turns.append(
            Turn(
                "Refund to my card, please",
                f"Done: I've refunded {money(order.amount)} to your card ending {rng.randint(1000, 9999)}. "
                "It usually shows up within 3–5 working days.",
                [
                    ToolUse(
                        "refund",
                        {
                            "order_id": order.order_id,
                            "amount": order.amount,
                            "currency": "EUR",
                            "reason": problem,
                        },
                        {
                            "refund_id": refund_id,
                            "status": "succeeded",
                            "amount": order.amount,
                            "eta_days": 5,
                        },
                        flaky=rng.random() < 0.15,
                    )
                ],
            )
        )
    else:
        turns.append(
            Turn(
                "A replacement would be great",
                f"A new {order.product} is on its way and will arrive in 2–3 days. No "
                "need to send the old one back.",
                [
                    ToolUse(
                        "create_replacement",
                        {"order_id": order.order_id, "reason": problem},
                        {"replacement_order_id": f"NW-{rng.randint(100000, 999999)}", "status": "created"},
                    )
                ],
            )
        )
    turns.append(Turn(rng.choice(THANKS), "Happy to help. Sorry again for the trouble!"))
    return Scenario(
        "refund",
        turns,
        "resolved",
        Critique(
            bad="Promised the refund before the payment provider confirmed it; must "
            "wait for the refund status.",
            corrected=f"I've asked our payment provider to refund {money(order.amount)} to your card. "
            "You'll get an email as soon as it's confirmed, usually within a few minutes.",
            good="Offered the three options from the refund policy and confirmed the amount.",
            tags=["refund", "policy"],
            turn=2,
        ),
    )


def product_question(rng, at):
    product, _ = rng.choice(PRODUCTS)
    article = rng.choice(KB_ARTICLES["product"])
    question = rng.choice(
        [
            f"Does the {product} work with 110V? I'm moving to the US.",
            f"Can I use the {product} abroad?",
            f"Is the {product} covered by warranty if I bought it on sale?",
        ]
    )
    turns = [
        Turn(
            question,
            f"According to our help centre ({article[0]}), the {product} supports 100–240 V, so it works in "
            "the US with a simple plug adapter. No voltage converter needed.",
            [
                ToolUse(
                    "search_kb",
                    {"query": question, "top_k": 3},
                    {
                        "articles": [
                            {
                                "id": article[0],
                                "title": article[1],
                                "score": round(rng.uniform(0.72, 0.95), 2),
                            }
                        ]
                    },
                )
            ],
        )
    ]
    resolved = rng.random() < 0.5
    if resolved:
        turns.append(
            Turn(
                "And how long is the warranty?",
                "Every Northwind product has a 2-year warranty from the delivery date, sale items included.",
                [
                    ToolUse(
                        "search_kb",
                        {"query": "warranty length", "top_k": 3},
                        {
                            "articles": [
                                {"id": "KB-1107", "title": KB_ARTICLES["product"][1][1], "score": 0.91}
                            ]
                        },
                    )
                ],
            )
        )
    return Scenario(
        "product_question",
        turns,
        "resolved" if resolved else "abandoned",
        Critique(
            bad="Answered from memory; the cited article is about plugs, not voltage range for this model.",
            corrected=f"The {product} is rated for 220–240 V only. In the US you would need a step-up "
            "converter; a plug adapter alone is not enough.",
            good="Cited the help-centre article and answered the exact question.",
            tags=["hallucination", "knowledge-base"],
            turn=1,
        ),
    )


def login_problem(rng, at):
    article = rng.choice(KB_ARTICLES["login"])
    turns = [
        Turn(
            rng.choice(
                [
                    "I can't log into my account, it says my password is wrong",
                    "Locked out of my account again…",
                    "My login doesn't work since yesterday",
                ]
            ),
            buttons(
                "Sorry about that! Passwords are case-sensitive, and after 5 wrong tries the account locks "
                "for 15 minutes. I can also send you a reset link.",
                "Send me a reset link",
                "I'm still stuck",
            ),
            [
                ToolUse(
                    "search_kb",
                    {"query": "cannot sign in password wrong", "top_k": 3},
                    {"articles": [{"id": article[0], "title": article[1], "score": 0.88}]},
                )
            ],
        ),
        Turn(
            "Send me a reset link",
            "Done! I've sent a reset link to the email on your account "
            "(j•••@•••.com). It is valid for 30 minutes.",
            [
                ToolUse(
                    "send_password_reset",
                    {"account": "current_user"},
                    {"sent": True, "channel": "email", "expires_in_minutes": 30},
                )
            ],
        ),
    ]
    if rng.random() < 0.45:
        turns.append(
            Turn(
                "I still didn't get any email",
                "I've passed your conversation to our accounts team; a colleague "
                "will reply here within 2 hours.",
                [
                    ToolUse(
                        "handoff_to_human",
                        {"queue": "accounts", "priority": "normal", "summary": "Reset email not arriving"},
                        {"ticket_id": f"T-{rng.randint(40000, 49999)}", "queue": "accounts", "position": 3},
                    )
                ],
                note="Conversation handed over to a human agent (queue: accounts).",
            )
        )
        outcome = "escalated"
    else:
        turns.append(Turn("Got it, I'm in. Thanks!", "Great! Welcome back 🎉"))
        outcome = "resolved"
    return Scenario(
        "login",
        turns,
        outcome,
        Critique(
            bad="Should have offered the hand-off straight away: the customer said "
            "the reset email never arrives.",
            corrected="I'm sorry the reset email isn't arriving. I've asked our accounts team to verify your "
            "address and reset access manually; they'll reply here within 2 hours.",
            good="Followed the lock-out playbook and escalated at the right moment.",
            tags=["escalation", "account"],
            turn=2,
        ),
    )


def cancel_subscription(rng, at):
    plan = rng.choice(["Filter Club", "Coffee Beans Monthly", "Care Plus"])
    price = {"Filter Club": 12.0, "Coffee Beans Monthly": 24.0, "Care Plus": 6.99}[plan]
    sub_id = f"sub_{rng.randint(10**6, 10**7 - 1)}"
    cancel = rng.random() < 0.6
    choice = "Cancel anyway" if cancel else "Pause for 3 months"
    tool = "cancel_subscription" if cancel else "pause_subscription"
    return Scenario(
        "subscription",
        [
            Turn(
                f"I want to cancel my {plan} subscription",
                buttons(
                    f"You're on {plan} at {money(price)} a month. Before you go: would "
                    "pausing for 3 months help?",
                    "Pause for 3 months",
                    "Cancel anyway",
                ),
                [
                    ToolUse(
                        "get_subscription",
                        {"plan": plan},
                        {"subscription_id": sub_id, "plan": plan, "price": price, "renews_on": "the 1st"},
                    )
                ],
            ),
            Turn(
                choice,
                f"Done, your {plan} subscription is cancelled. You won't be charged again."
                if cancel
                else f"Done, {plan} is paused for 3 months. We'll remind you a week before it restarts.",
                [
                    ToolUse(
                        tool,
                        {"subscription_id": sub_id},
                        {"subscription_id": sub_id, "status": tool.split("_")[0] + "d"},
                    )
                ],
            ),
        ],
        "resolved",
        Critique(
            bad="Pushed the retention offer twice after the customer asked to cancel.",
            corrected=f"Done, your {plan} subscription is cancelled and you won't be charged again.",
            good="One retention offer, then did what the customer asked.",
            tags=["retention"],
            turn=1,
        ),
    )


def late_delivery(rng, at):
    order = make_order(rng, at - timedelta(days=8), status="delayed")
    voucher = rng.choice([10, 15])
    turns = [
        Turn(
            rng.choice(
                [
                    f"This is ridiculous, my order {order.order_id} is 5 days late!!",
                    f"Order {order.order_id} was supposed to arrive last week. What is going on?",
                ]
            ),
            f"I'm really sorry. {order.order_id} is held at the {order.carrier} depot after a missed scan; "
            f"they now expect to deliver it on {order.eta}.",
            [
                ToolUse(
                    "lookup_order", {"order_id": order.order_id}, order.as_result(), flaky=rng.random() < 0.1
                )
            ],
        ),
        Turn(
            "What are you going to do about it?",
            f"I've added a {money(voucher)} voucher to your account for the trouble. It's valid for a year.",
            [
                ToolUse(
                    "issue_voucher",
                    {
                        "order_id": order.order_id,
                        "amount": voucher,
                        "currency": "EUR",
                        "reason": "late_delivery",
                    },
                    {
                        "voucher_code": f"SORRY-{rng.randint(1000, 9999)}",
                        "amount": voucher,
                        "currency": "EUR",
                    },
                )
            ],
        ),
    ]
    resolved = rng.random() < 0.7
    if resolved:
        turns.append(Turn("Fine. Thanks for sorting it", "Thank you for your patience, and sorry again."))
    return Scenario(
        "late_delivery",
        turns,
        "resolved" if resolved else "abandoned",
        Critique(
            bad="Offered a voucher above the 10 EUR limit for delays under a week.",
            corrected=f"I've added a €10.00 voucher to your account for the delay on {order.order_id}.",
            good="Apologised, explained the delay and compensated within policy.",
            tags=["compensation", "policy"],
            turn=2,
        ),
    )


SCENARIOS = [
    (order_status, 30),
    (refund, 18),
    (product_question, 16),
    (login_problem, 14),
    (cancel_subscription, 10),
    (late_delivery, 12),
]


# -- playing a scenario through the agent ----------------------------------------------------------


class Conversation:
    """One session with one end user: plays the scenario turn by turn, one run per turn."""

    def __init__(self, story, scenario, started_at, *, live=False):
        rng = story.rng
        self.story = story
        self.rng = rng
        self.scenario = scenario
        self.session_id = f"conv_{story.ids.hex(16)}"
        self.user_id = f"cust_{rng.randint(10000, 99999)}"
        self.channel = rng.choices(list(CHANNELS), weights=list(CHANNELS.values()))[0]
        self.model = rng.choices([GPT_4O, CLAUDE_SONNET_4], weights=[6, 4])[0]
        self.started_at = started_at
        self.live = live
        self.history = [{"role": "system", "content": SYSTEM_PROMPT}]

    def play(self):
        """Plays every turn, one run each; a live conversation stops in the middle of its last turn."""
        at = self.started_at
        queue = list(enumerate(self.scenario.turns, start=1))
        answered = {}
        number = 0
        while queue:
            index, turn = queue.pop(0)
            number += 1
            live = self.live and not queue
            run, ok = self.play_turn(turn, number, at, live=live)
            if ok:
                answered[index] = run
            elif not live:
                # The model provider failed: the user pokes the bot and the turn is played again,
                # or gives up.
                if self.rng.random() > 0.6:
                    return
                queue.insert(0, (index, Turn(self.rng.choice(POKES), turn.reply, turn.tools, turn.note)))
            at = run.now + timedelta(seconds=self.rng.randint(12, 95))
        if not self.live:
            self.finish(run, number)
            reviewed = answered.get(self.scenario.critique.turn)
            if reviewed:
                self.story.critique(reviewed.run_id, reviewed.now, self.scenario.critique)

    def play_turn(self, turn, number, at, *, live):
        """One run: classify, call tools, answer. Returns (run, answered)."""
        rng = self.rng
        run = self.story.run(AGENT_ID, at, session_id=self.session_id)
        run.start(
            user_id=self.user_id,
            workflow=WORKFLOW,
            input={"message": turn.user},
            metadata={"channel": self.channel, "turn": number, "prompt_version": PROMPT_VERSION},
            tags=[self.scenario.topic, self.channel],
        )
        if number == 1 and rng.random() < 0.5:
            run.message(
                "system", f"Chat started on {CHANNEL_NAMES[self.channel]} · customer {self.user_id} signed in"
            )
        run.message("user", turn.user)
        self.history.append({"role": "user", "content": turn.user})
        run.wait(30, 120)
        self.classify(run, turn)
        if turn.tools:
            self.plan(run, turn, number)
            if live:
                # Still waiting for the first tool to answer.
                run.tool(turn.tools[0].name, turn.tools[0].args)
                return run, False
            for tool in turn.tools:
                self.call_tool(run, tool)
        elif live:
            run.step("respond", "llm", input={"history_turns": number})
            return run, False
        answered = self.respond(run, turn, number)
        if not answered:
            return run, False
        if turn.note:
            run.wait(200, 900)
            run.message("system", turn.note)
        text = turn.reply["text"] if isinstance(turn.reply, dict) else turn.reply
        run.complete({"reply": text})
        return run, True

    def classify(self, run, turn):
        step = run.step("classify_intent", "llm", input={"message": turn.user})
        confidence = round(self.rng.uniform(0.71, 0.99), 2)
        reply = f'{{"intent": "{self.scenario.topic}", "confidence": {confidence}}}'
        body, latency = llm_call(
            self.rng,
            self.story.ids,
            GPT_4O_MINI,
            step_id=step,
            messages=[{"role": "system", "content": "Classify the customer's intent."}, self.history[-1]],
            reply=reply,
            prompt_tokens=self.rng.randint(310, 420) + len(turn.user) // 4,
            completion_tokens=self.rng.randint(11, 16),
            temperature=0.0,
        )
        run.llm(body, latency)
        run.ok(step, {"intent": self.scenario.topic, "confidence": confidence})

    def prompt_tokens(self, number):
        return 950 + 310 * (number - 1) + self.rng.randint(0, 180)

    def cached_tokens(self, number, prompt):
        # Later turns re-send the same system prompt and history, which the providers cache.
        if number == 1:
            return 0
        return 1024 if self.model == CLAUDE_SONNET_4 else (prompt - 300) // 128 * 128

    def plan(self, run, turn, number):
        step = run.step("plan", "llm", input={"history_turns": number})
        calls = [{"name": tool.name, "arguments": tool.args} for tool in turn.tools]
        prompt = self.prompt_tokens(number)
        body, latency = llm_call(
            self.rng,
            self.story.ids,
            self.model,
            step_id=step,
            messages=self.history[-5:],
            reply=None,
            tool_calls=calls,
            prompt_tokens=prompt,
            completion_tokens=self.rng.randint(24, 60) * len(calls),
            cached_tokens=self.cached_tokens(number, prompt),
        )
        run.llm(body, latency)
        run.ok(step, {"tool_calls": [tool.name for tool in turn.tools]})

    def call_tool(self, run, tool):
        latency = TOOL_LATENCY[tool.name]
        if tool.flaky:
            step = run.tool(tool.name, tool.args)
            run.wait(5000, 5050)
            run.tool_failed(step, TRANSIENT_ERROR)
            run.wait(300, 900)
        step = run.tool(tool.name, tool.args)
        run.wait(*latency)
        if tool.error:
            run.tool_failed(step, tool.error)
            data = {"error": tool.error}
        else:
            run.tool_ok(step, tool.result)
            data = tool.result
        run.message("tool", {"type": "tool_result", "tool": tool.name, "data": data}, step_id=step)
        self.history.append({"role": "tool", "content": f"{tool.name}: {data}"})

    def respond(self, run, turn, number):
        """The answer; returns False when the model provider failed for good."""
        rng = self.rng
        step = run.step("respond", "llm", input={"history_turns": number})
        text = turn.reply["text"] if isinstance(turn.reply, dict) else turn.reply
        prompt = self.prompt_tokens(number) + 120 * len(turn.tools)
        words = len(text.split())
        roll = rng.random()
        call = {
            "step_id": step,
            "messages": self.history[-6:],
            "reply": turn.reply,
            "prompt_tokens": prompt,
            "completion_tokens": int(words * 1.35) + rng.randint(4, 30),
            "cached_tokens": self.cached_tokens(number, prompt),
        }
        if roll < 0.07:
            body, latency = llm_call(rng, self.story.ids, self.model, error=rate_limited(self.model), **call)
            run.llm(body, latency)
            if roll < 0.03:
                run.wait(1000, 2000)
                body, latency = llm_call(
                    rng, self.story.ids, self.model, error=rate_limited(self.model), **call
                )
                run.llm(body, latency)
                run.failed(
                    step, {"type": "UpstreamError", "message": body["error"]["message"], "attempts": 2}
                )
                run.fail({"type": "UpstreamError", "message": f"{self.model}: {body['error']['message']}"})
                return False
            # Fall back to the small model rather than keep the customer waiting.
            body, latency = llm_call(rng, self.story.ids, GPT_4O_MINI, **{**call, "cached_tokens": 0})
        else:
            body, latency = llm_call(rng, self.story.ids, self.model, **call)
        run.llm(body, latency)
        run.ok(step, {"text": text})
        run.message("assistant", turn.reply)
        self.history.append({"role": "assistant", "content": text})
        return True

    def finish(self, run, turns):
        minutes = round((run.now - self.started_at).total_seconds() / 60, 1)
        if self.scenario.outcome == "resolved":
            properties = {
                "topic": self.scenario.topic,
                "channel": self.channel,
                "resolution_minutes": minutes,
                "turns": turns,
            }
            if self.rng.random() < 0.7:
                properties["csat"] = self.rng.choices([5, 4, 3, 2, 1], weights=[45, 30, 12, 7, 6])[0]
            run.track("ticket_resolved", properties)
        elif self.scenario.outcome == "escalated":
            run.track(
                "ticket_escalated",
                {
                    "topic": self.scenario.topic,
                    "channel": self.channel,
                    "queue": "accounts",
                    "after_minutes": minutes,
                },
            )


def build(story):
    story.upsert_agent(
        story.anchor - timedelta(days=15),
        agent_id=AGENT_ID,
        name="Support Concierge",
        description="Answers customers on web, app and WhatsApp: orders, refunds, "
        "accounts and product questions.",
        mode="full",
    )
    sessions = story.count(100)
    live = 2
    for index in range(sessions):
        factory = story.rng.choices([s for s, _ in SCENARIOS], weights=[w for _, w in SCENARIOS])[0]
        is_live = index >= sessions - live
        started = story.recent_time(6, 12) if is_live else story.start_time(margin=timedelta(minutes=40))
        scenario = factory(story.rng, started)
        Conversation(story, scenario, started, live=is_live).play()
