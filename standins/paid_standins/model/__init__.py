"""A scripted model behind an OpenAI-compatible endpoint, reached through litellm like any provider."""

from .scripted import MODEL_NAME, SCRIPTS_DIR, CallRecord, Script, ScriptedModelServer

__all__ = ["MODEL_NAME", "SCRIPTS_DIR", "CallRecord", "Script", "ScriptedModelServer"]
