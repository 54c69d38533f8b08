"""The Langfuse Python SDK (see clients/langfuse_agent.py)."""

from tests.conformance.clients import langfuse_agent

langfuse_agent.main()
