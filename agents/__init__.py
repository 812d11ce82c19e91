"""The resolver graph (perceive, decide, guard, approve, act, learn), the LLM advisor,
precedent memory and the chat assistant."""
