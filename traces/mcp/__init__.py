"""The MCP server at /mcp: the run record and the reviews as tools an agent can call (see tools), served
over streamable HTTP by the official SDK from a Django view (see transport)."""
