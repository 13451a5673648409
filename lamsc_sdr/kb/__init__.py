"""LKB: the personalized LLM knowledge base (prompt base of profiles + a global chat model).

Public API: :class:`KnowledgeBase` (``extract`` at the sender, ``recover`` at the receiver),
:class:`ChatModel` and :func:`make_chat_model`, :func:`load_profiles`, :class:`Profile`.
Heavy libraries (torch, transformers, ctranslate2) load only when a local model is built.
"""
from .chat import ChatModel, make_chat_model
from .knowledge import KnowledgeBase
from .profiles import Profile, PromptBase, load_example, load_profiles

__all__ = ["ChatModel", "KnowledgeBase", "Profile", "PromptBase", "load_example", "load_profiles",
           "make_chat_model"]
