"""The phrases she says most, for the opener cache (``tts/opener_cache.py``): her greeting and
apology, her fixed answers to voice commands, the interjections a reply opens with, and the
short sentences replies most often start with. Each is cut as the conversation cuts a reply
(``SpeechChunker``), so the cache holds exactly the pieces the voice is asked for."""

from __future__ import annotations

from ..tts.chunking import INTERJECTIONS, speakable_chunks
from .persona import Persona
from .voice_control import fixed_replies

# Sentences a reply or an answer often is or starts with (from the persona's examples and the
# small model's habits; benchmarks/opener_cache.py measures how often they are hit).
COMMON = ("Of course.", "Of course!", "I'm sorry.", "I'm so sorry.", "Sure.", "Sure!", "Okay.", "Okay!", "Yes.",
          "No.", "Hmm.", "I see.", "Really?", "That's great!", "That's wonderful!", "Thank you.", "Thank you!",
          "Thanks!", "You're welcome.", "You're welcome!", "Good morning!", "Good night!", "Hello!", "Hi!",
          "Hi there!", "Oh no.", "Oh!", "Wow!", "Absolutely.", "Absolutely!", "Right.", "Exactly.", "Me too.",
          "I understand.", "That makes sense.", "Good idea!", "Great!", "Let me think.", "Let me see.",
          "Hello there!", "How are you?", "How are you doing?", "What's on your mind?", "Tell me more.",
          "That sounds lovely.", "That sounds fun!", "That sounds hard.", "Done.", "Got it.",
          # the embedded model's own commonest first pieces (124 replies of the latency and memory
          # benchmarks, 2026-12-03): "I'm sorry," alone opened 12 of them
          "I'm sorry,", "I'm so sorry,", "I'm sorry for your loss,", "I'm sorry to hear that.",
          "I'm so sorry to hear that.", "How are you today?", "How's your day going?", "Good morning.",
          "I'm doing great, thanks!", "I'm all right, thanks.", "Awesome!", "That's a tough one,",
          "That's a good question.", "Good question!", "I'm not sure,", "I'm glad to hear that.")


def opener_phrases(persona: Persona, wake_phrase: str) -> list[str]:
    """Every phrase worth caching for this persona, in the order they are worth building."""
    texts = [persona.greeting or "", *fixed_replies(wake_phrase), *COMMON]
    pieces = [persona.apology]  # said whole, not cut
    for text in texts:
        pieces += speakable_chunks([text])
    pieces += [f"{word}," for word in INTERJECTIONS]
    return list(dict.fromkeys(p for p in pieces if p))
