"""Tool schemas as agents and trainers see them: OpenAI strict function schemas and MCP tools
with input and output schemas (``tools``), and result shapes (``output``).
"""
