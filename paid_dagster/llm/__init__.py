"""Model calls through litellm, each recorded as an `llm.call` event with litellm's own cost figure."""

from .gateway import LLMError, LLMGateway, LLMReply, ModelNotAllowed

__all__ = ["LLMError", "LLMGateway", "LLMReply", "ModelNotAllowed"]
