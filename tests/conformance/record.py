"""Record what each real client package sends for the small agent.

    python -m tests.conformance.record                 # every client
    python -m tests.conformance.record traceloop otel-js

Per client: install its pinned packages (clients/<client>/requirements.txt into a venv under
.conformance/venvs/, or clients/otel-js/package-lock.json with npm), start the fake provider and a
capture receiver, run clients/<client>/agent.py (agent.mjs for Node) against both, and write every
request the package sent into recordings/<client>/: NNN.<path>.bin (the body as sent),
NNN.<path>.json (decoded, to read) and index.json (path and headers of each, in order).
Re-run it when a package changes; the replay test needs only the files it writes.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conformance import fake_provider
from tests.conformance.decode import decoded, rewrite_strings
from tests.conformance.receiver import Receiver

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CLIENTS = HERE / "clients"
RECORDINGS = HERE / "recordings"
VENVS = ROOT / ".conformance" / "venvs"
AGENT_TIMEOUT = 300
# Stack traces in exception events name the files they ran from: the recordings say these instead.
NEUTRAL_PATHS = {str(ROOT): "/srv/agent", sys.base_prefix: "/usr/local", str(Path.home()): "/home/agent"}

# The fake keys the agents present; the replay uses a real workspace key instead.
ENV = {
    "OPENAI_API_KEY": "sk-conformance",
    "ANTHROPIC_API_KEY": "sk-ant-conformance",
    "LANGFUSE_PUBLIC_KEY": "pk-lf-conformance",
    "LANGFUSE_SECRET_KEY": "sk-lf-conformance",
    "TRACELOOP_API_KEY": "conformance",
    "TRACELOOP_TELEMETRY": "false",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    "OTEL_SERVICE_NAME": "conformance-agent",
    "PYTHONUNBUFFERED": "1",
}


def clients():
    return sorted(
        path.name
        for path in CLIENTS.iterdir()
        if (path / "agent.py").exists() or (path / "agent.mjs").exists()
    )


def command_for(client):
    folder = CLIENTS / client
    if (folder / "agent.mjs").exists():
        if not (folder / "node_modules").exists():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=folder, check=True)  # noqa: S607
        return ["node", str(folder / "agent.mjs")]
    requirements = folder / "requirements.txt"
    if not requirements.exists():  # the project's own client runs on the project's interpreter
        return [sys.executable, str(folder / "agent.py")]
    venv = VENVS / client
    python = venv / "bin" / "python"
    stamp = venv / "requirements.txt"
    if not stamp.exists() or stamp.read_text() != requirements.read_text():
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # noqa: S603
        install = [str(python), "-m", "pip", "install", "-q", "-r", str(requirements)]
        subprocess.run(install, check=True)  # noqa: S603 - our own pinned requirements
        shutil.copy(requirements, stamp)
    return [str(python), str(folder / "agent.py")]


def record(client):
    command = command_for(client)
    provider = fake_provider.serve()
    receiver = Receiver()
    env = {
        **os.environ,
        **ENV,
        "FAKE_PROVIDER_URL": f"http://127.0.0.1:{provider.server_port}",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{provider.server_port}/v1",
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{provider.server_port}",
        "RECEIVER_URL": receiver.url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "LANGFUSE_HOST": receiver.url,
        "LANGFUSE_BASE_URL": receiver.url,
        "TRACELOOP_BASE_URL": receiver.url,
        "PYTHONPATH": str(ROOT),
    }
    try:
        result = subprocess.run(  # noqa: S603 - the client's agent script from this folder
            command, env=env, cwd=ROOT, timeout=AGENT_TIMEOUT, capture_output=True, text=True
        )
        receiver.settled()
    finally:
        receiver.close()
        provider.shutdown()
        provider.server_close()
    if result.returncode:
        raise SystemExit(
            f"{client}: the agent failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    write(client, receiver.captures)
    print(f"{client}: {len(receiver.captures)} requests", flush=True)


def write(client, captures):
    folder = RECORDINGS / client
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    index = []
    for n, capture in enumerate(captures, 1):
        stem = f"{n:03d}.{slug(capture.path)}"
        where = (capture.path, capture.content_type, capture.content_encoding)
        body = rewrite_strings(*where, capture.body, neutral_paths)
        (folder / f"{stem}.bin").write_bytes(body)
        readable = decoded(*where, body)
        (folder / f"{stem}.json").write_text(json.dumps(readable, indent=1, ensure_ascii=False) + "\n")
        index.append(
            {
                "file": f"{stem}.bin",
                "path": capture.path,
                "content_type": capture.content_type,
                "content_encoding": capture.content_encoding,
                "user_agent": capture.user_agent,
            }
        )
    (folder / "index.json").write_text(json.dumps(index, indent=1) + "\n")


def neutral_paths(text):
    for machine, neutral in sorted(NEUTRAL_PATHS.items(), key=lambda pair: -len(pair[0])):
        text = text.replace(machine, neutral)
    return text


def slug(path):
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")


def main(argv):
    chosen = argv or clients()
    unknown = sorted(set(chosen) - set(clients()))
    if unknown:
        raise SystemExit(f"no such client: {', '.join(unknown)} (known: {', '.join(clients())})")
    for client in chosen:
        record(client)


if __name__ == "__main__":
    main(sys.argv[1:])
