"""The document-analysis pipeline: OCR, retrieval, then several model calls per run (extract per chunk,
classify, summarise) nested under an agent step."""

import math
from datetime import timedelta

from .llm import CLAUDE_SONNET_4, GPT_4O, GPT_4O_MINI, llm_call, rate_limited
from .story import Critique

AGENT_ID = "doc-analyst"
WORKFLOW = "document_analysis"
PAGES_PER_CHUNK = 4
KINDS = {"invoice": 40, "contract": 18, "incident_report": 22, "purchase_order": 20}
SOURCES = ["email-inbox", "upload", "sftp-drop"]
VENDORS = [
    "Acme Facilities BV",
    "Kaltwasser Logistik GmbH",
    "Brightline Print Ltd",
    "Orion Cleaning Services",
]
SITES = ["Rotterdam DC", "Leipzig DC", "Manchester store", "Lyon warehouse"]
INCIDENTS = [
    ("Forklift collision with racking in aisle 14; no injuries, racking bay closed.", "high"),
    ("Cold-room temperature above 8 °C for 47 minutes after a compressor trip.", "critical"),
    ("Water leak from the roof over loading dock 3 after heavy rain.", "medium"),
    ("Fire alarm triggered by dust from floor sanding; building evacuated for 20 minutes.", "low"),
    ("Conveyor belt jam damaged 12 parcels; items re-packed.", "low"),
]
SYSTEM_PROMPT = "Extract the fields as JSON. Use null for anything not in the document. Never guess amounts."


class DocumentRun:
    def __init__(self, story, at):
        rng = story.rng
        self.story = story
        self.rng = rng
        self.kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
        self.pages = rng.choices([1, 2, 3, 5, 8, 14], weights=[25, 25, 20, 15, 10, 5])[0]
        self.document_id = f"doc_{story.ids.hex(12)}"
        self.vendor = rng.choice(VENDORS)
        self.site = rng.choice(SITES)
        self.incident, self.severity = rng.choice(INCIDENTS)
        self.amount = round(rng.uniform(180, 14000), 2)
        self.filename = {
            "invoice": f"INV-{rng.randint(2024000, 2024999)}.pdf",
            "contract": f"service-agreement-{self.vendor.split()[0].lower()}.pdf",
            "incident_report": f"incident-{self.site.split()[0].lower()}-{rng.randint(100, 999)}.pdf",
            "purchase_order": f"PO-{rng.randint(55000, 55999)}.pdf",
        }[self.kind]
        self.run = story.run(AGENT_ID, at)

    def fields(self):
        if self.kind == "incident_report":
            return {"site": self.site, "description": self.incident, "severity": self.severity, "injuries": 0}
        if self.kind == "contract":
            return {
                "counterparty": self.vendor,
                "term_months": 24,
                "notice_days": 90,
                "annual_value": self.amount,
            }
        return {
            "vendor": self.vendor,
            "total": self.amount,
            "currency": "EUR",
            "vat_rate": 0.21,
            "due_in_days": 30,
        }

    def summary(self):
        if self.kind == "incident_report":
            return (
                f"Incident at {self.site}: {self.incident} Severity {self.severity}; "
                "follow-up owner: site manager."
            )
        if self.kind == "contract":
            return (
                f"24-month service agreement with {self.vendor}, 90 days' notice, "
                f"about €{self.amount:,.0f} a year."
            )
        label = "Invoice" if self.kind == "invoice" else "Purchase order"
        return f"{label} from {self.vendor} for €{self.amount:,.2f} incl. 21% VAT, due in 30 days."

    def ocr_text(self):
        # Long enough to show the `standard` mode cutting the stored prompt.
        header = f"{self.kind.replace('_', ' ').upper()} · {self.vendor} · {self.site}\n"
        body = " ".join(f"[p{page}] {self.summary()}" for page in range(1, self.pages + 1))
        return (header + body + " Terms and conditions apply. " * 40)[:6000]

    def play(self, *, live=False, unreadable=False):
        run, rng = self.run, self.rng
        run.start(
            workflow=WORKFLOW,
            input={"document_id": self.document_id, "filename": self.filename, "pages": self.pages},
            metadata={"source": rng.choice(SOURCES), "mime": "application/pdf"},
            tags=[self.kind],
        )
        step = run.step("fetch_document", "connector", input={"document_id": self.document_id})
        run.wait(80, 400)
        run.ok(step, {"bytes": self.pages * rng.randint(60_000, 140_000), "mime": "application/pdf"})
        if not self.ocr(unreadable):
            return
        step = run.step("retrieve_similar", "retriever", input={"query": self.filename, "top_k": 3})
        run.wait(40, 180)
        run.ok(step, {"matches": [{"document_id": f"doc_{self.story.ids.hex(12)}", "score": 0.81}]})
        analyse = run.step("analyse", "agent", input={"document_id": self.document_id, "pages": self.pages})
        run.log("cache_lookup", parent=analyse, level="info", output={"hit": False, "key": self.document_id})
        if live:
            run.step("extract_fields", "llm", parent=analyse, input={"chunks": self.chunks})
            return
        if not self.extract(analyse):
            return
        category = self.classify(analyse)
        summary = self.summarise(analyse)
        run.ok(analyse, {"category": category, "summary": summary})
        step = run.step("store_results", "connector", input={"document_id": self.document_id})
        run.wait(30, 200)
        run.ok(step, {"record_id": f"rec_{self.story.ids.hex(10)}"})
        run.complete({"category": category, "fields": self.fields(), "summary": summary})
        self.track()
        self.story.critique(
            run.run_id,
            run.now,
            Critique(
                bad=self.mistake(),
                corrected=self.summary(),
                good="Fields and summary match the document.",
                tags=["extraction", self.kind],
            ),
        )

    def mistake(self):
        """What a reviewer finds wrong with this kind of document's answer."""
        if self.kind == "incident_report":
            return f"Severity under-rated as low; the report ({self.incident}) is {self.severity}."
        if self.kind == "contract":
            return "Notice period extracted as 30 days; the termination clause says 90 days."
        return "Total taken from the subtotal line; the document's total includes 21% VAT."

    @property
    def chunks(self):
        return math.ceil(self.pages / PAGES_PER_CHUNK)

    def ocr(self, unreadable):
        run, rng = self.run, self.rng
        step = run.tool("ocr", {"document_id": self.document_id, "pages": self.pages, "language": "auto"})
        run.wait(350 * self.pages, 1200 * self.pages)
        if rng.random() < 0.04 or unreadable:
            error = {
                "type": "OCRError",
                "message": f"Page {rng.randint(1, self.pages)}: text confidence 0.41 is below 0.60",
            }
            run.tool_failed(step, error)
            run.fail(error)
            return False
        run.tool_ok(step, {"pages": self.pages, "characters": len(self.ocr_text()), "confidence": 0.97})
        return True

    def extract(self, parent):
        """One model call per chunk. A rate limit fails an attempt; the step is tried once more."""
        run, rng = self.run, self.rng
        roll = rng.random()
        attempts, succeeds = (2, False) if roll < 0.02 else (2, True) if roll < 0.14 else (1, True)
        for attempt in range(1, attempts + 1):
            step = run.step(
                "extract_fields", "llm", parent=parent, input={"chunks": self.chunks}, attempt=attempt
            )
            failing = attempt < attempts or not succeeds
            for chunk in range(1, self.chunks + 1):
                body, latency = llm_call(
                    rng,
                    self.story.ids,
                    GPT_4O,
                    step_id=step,
                    messages=[
                        {"role": "system", "content": SYSTEM_PROMPT},
                        {"role": "user", "content": self.ocr_text()},
                    ],
                    reply=str(self.fields()),
                    prompt_tokens=rng.randint(2200, 5200),
                    completion_tokens=rng.randint(140, 380),
                    error=rate_limited(GPT_4O) if failing else None,
                    temperature=0.0,
                )
                run.llm(body, latency)
                if failing:
                    run.failed(
                        step, {"type": "RateLimitError", "message": body["error"]["message"], "chunk": chunk}
                    )
                    break
            if not failing:
                run.ok(step, self.fields())
                return True
            run.wait(2000, 4000)
        error = {"type": "RateLimitError", "message": f"extract_fields failed after {attempts} attempts"}
        run.failed(parent, error)
        run.fail(error)
        return False

    def classify(self, parent):
        run, rng = self.run, self.rng
        step = run.step("classify", "llm", parent=parent, input={"labels": list(KINDS)})
        confidence = round(rng.uniform(0.82, 0.99), 2)
        output = {"category": self.kind, "confidence": confidence}
        if self.kind == "incident_report":
            output["severity"] = self.severity
        body, latency = llm_call(
            rng,
            self.story.ids,
            GPT_4O_MINI,
            step_id=step,
            messages=[{"role": "user", "content": f"Classify: {self.ocr_text()[:400]}"}],
            reply=str(output),
            prompt_tokens=rng.randint(480, 700),
            completion_tokens=rng.randint(12, 24),
            temperature=0.0,
        )
        run.llm(body, latency)
        run.ok(step, output)
        return self.kind

    def summarise(self, parent):
        run, rng = self.run, self.rng
        step = run.step("summarise", "llm", parent=parent, input={"max_words": 60})
        summary = self.summary()
        body, latency = llm_call(
            rng,
            self.story.ids,
            CLAUDE_SONNET_4,
            step_id=step,
            messages=[
                {"role": "user", "content": f"Summarise for the operations team:\n{self.ocr_text()[:1500]}"}
            ],
            reply=summary,
            prompt_tokens=rng.randint(1400, 2600),
            completion_tokens=rng.randint(60, 120),
        )
        run.llm(body, latency)
        run.ok(step, {"summary": summary})
        return summary

    def track(self):
        run = self.run
        duration = round((run.now - run.started_at).total_seconds(), 1)
        run.track(
            "document_processed",
            {
                "category": self.kind,
                "pages": self.pages,
                "duration_s": duration,
                "source": "document-analysis",
            },
        )
        if self.kind == "incident_report":
            run.track(
                "alert_received",
                {
                    "severity": self.severity,
                    "site": self.site,
                    "category": "incident",
                    "source": "document-analysis",
                },
            )


def build(story):
    story.upsert_agent(
        story.anchor - timedelta(days=15),
        agent_id=AGENT_ID,
        name="Document Analyst",
        description="Reads invoices, contracts, purchase orders and incident reports; "
        "extracts, classifies, summarises.",
        mode="standard",
        max_input_chars=2000,
        max_output_chars=2000,
    )
    documents = story.count(40)
    for index in range(documents):
        live = index == documents - 1
        # One recent failure, so the home page's latest day always has something to look into.
        unreadable = index == documents - 2
        if live:
            at = story.recent_time(1, 4)
        elif unreadable:
            at = story.recent_time(30, 180)
        else:
            at = story.start_time(margin=timedelta(minutes=10))
        DocumentRun(story, at).play(live=live, unreadable=unreadable)
