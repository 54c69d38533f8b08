"""Pools of realistic payloads (JSON text, ~1 KB per row), made once so the data set builds fast."""

import json
import random

WORDS = [
    "order",
    "refund",
    "invoice",
    "shipping",
    "address",
    "customer",
    "account",
    "payment",
    "card",
    "delivery",
    "parcel",
    "warehouse",
    "return",
    "policy",
    "discount",
    "coupon",
    "subscription",
    "plan",
    "upgrade",
    "cancel",
    "renewal",
    "ticket",
    "priority",
    "escalate",
    "agent",
    "summary",
    "context",
    "document",
    "search",
    "result",
    "answer",
    "question",
    "billing",
    "tax",
    "region",
    "currency",
    "status",
    "tracking",
    "carrier",
    "estimate",
    "weight",
    "label",
    "customs",
    "signature",
    "receipt",
    "balance",
    "credit",
]

USER_ASKS = [
    "Where is my order {n}? It was supposed to arrive on Monday.",
    "Can I get a refund for invoice {n}, the item came broken.",
    "Please change the delivery address of order {n} to my office.",
    "Why was my card charged twice for subscription {n}?",
    "I want to upgrade plan {n} to the business tier before the renewal.",
    "The coupon {n} does not work at checkout, can you help?",
    "How long does a return take for parcel {n}?",
    "Cancel order {n} please, I ordered the wrong size.",
]
ASSISTANT_ANSWERS = [
    "Order {n} left the warehouse yesterday and should arrive within two working days.",
    "I have issued a refund for invoice {n}; it will show on your card in 3-5 days.",
    "The delivery address of order {n} is updated. You will get a new tracking link.",
    "You were charged once; the second line is a pending authorisation that expires.",
    "Plan {n} is upgraded. The difference is prorated on your next invoice.",
    "Coupon {n} expired last week, but I applied a 10% discount to your cart instead.",
    "Returns take about a week once the carrier scans parcel {n}.",
    "Order {n} is cancelled and nothing was charged.",
]
ERRORS = [
    {"type": "TimeoutError", "message": "carrier API did not answer within 30 s"},
    {"type": "ValidationError", "message": "order total does not match the invoice lines"},
    {"type": "RateLimitError", "message": "model provider rate limit reached (429)"},
    {"type": "ToolError", "message": "crm_update failed: record locked by another process"},
]


def sentence(rng, words):
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def pool(rng, size, make):
    return [json.dumps(make(rng, n), separators=(",", ":")) for n in range(size)]


def task_input(rng, n):
    return {
        "query": sentence(rng, 14),
        "context": {
            "order_id": f"ord_{rng.randrange(10**8):08d}",
            "customer": {
                "id": f"cus_{rng.randrange(10**6):06d}",
                "tier": rng.choice(["free", "pro", "team"]),
            },
            "items": [
                {
                    "sku": f"SKU-{rng.randrange(10**5):05d}",
                    "qty": rng.randint(1, 4),
                    "price": rng.randint(5, 400),
                }
                for _ in range(4)
            ],
            "notes": sentence(rng, 22),
        },
        "options": {"temperature": 0.2, "max_steps": 8, "locale": rng.choice(["en-GB", "de-DE", "fr-FR"])},
    }


def task_output(rng, n):
    return {
        "result": sentence(rng, 30),
        "confidence": round(rng.random(), 3),
        "citations": [f"kb://{rng.choice(WORDS)}/{rng.randrange(1000)}" for _ in range(4)],
        "next": rng.choice(["reply", "escalate", "refund", "wait"]),
        "trace": {"tokens": rng.randint(100, 4000), "cache": rng.random() < 0.3},
    }


def model_request(rng, n):
    return {
        "messages": [
            {"role": "system", "content": "You are a careful support agent. " + sentence(rng, 30)},
            {"role": "user", "content": rng.choice(USER_ASKS).format(n=rng.randrange(10**5))},
            {"role": "assistant", "content": sentence(rng, 25)},
            {"role": "user", "content": sentence(rng, 18)},
        ],
        "temperature": 0.2,
        "max_tokens": 1024,
    }


def model_response(rng, n):
    return {
        "choices": [
            {"message": {"role": "assistant", "content": sentence(rng, 40)}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": rng.randint(200, 4000), "completion_tokens": rng.randint(20, 800)},
    }


def run_state(rng, n):
    return {"step": rng.randint(1, 12), "approved": rng.random() < 0.8, "memory": sentence(rng, 20)}


def tracked_properties(rng, n):
    return {
        "plan": rng.choice(["free", "pro", "team", "enterprise"]),
        "country": rng.choice(["DE", "FR", "GB", "US", "ES", "IT", "NL", "PL"]),
        "channel": rng.choice(["web", "email", "chat", "api"]),
        "amount": round(rng.uniform(5, 900), 2),
        "success": rng.random() < 0.87,
        "latency_ms": rng.randint(40, 4000),
    }


class Payloads:
    """The pools one data set draws from; `pick(pool)` is a cheap random choice."""

    def __init__(self, seed, size=256):
        rng = random.Random(seed)
        self.task_inputs = pool(rng, size, task_input)
        self.task_outputs = pool(rng, size, task_output)
        self.requests = pool(rng, size, model_request)
        self.responses = pool(rng, size, model_response)
        self.states = pool(rng, size, run_state)
        self.properties = pool(rng, 4 * size, tracked_properties)
        self.errors = [json.dumps(e) for e in ERRORS]
        self.user_texts = [ask.format(n=rng.randrange(10**5)) for ask in USER_ASKS * 8]
        self.assistant_texts = [answer.format(n=rng.randrange(10**5)) for answer in ASSISTANT_ANSWERS * 8]
