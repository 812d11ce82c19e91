"""The chat ops assistant: read tools, a what-if simulator and role-checked actions that go
through the resolver, answered by a deterministic command grammar or an LLM tool-calling loop.

    assistant = Assistant(AssistantBackend.from_resolver(resolver), llm=client)
    answer = assistant.ask(Asker(name="alice", role="approver"), "s1", "pending")
"""

from agents.assistant.assistant import Assistant, secrets_of
from agents.assistant.backend import AssistantBackend
from agents.assistant.models import Asker, ChatAnswer, ToolCallRecord

__all__ = ["Asker", "Assistant", "AssistantBackend", "ChatAnswer", "ToolCallRecord", "secrets_of"]
