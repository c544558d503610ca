from companion.tts.chunking import SpeechChunker, clean_for_speech, short_pieces, speakable_chunks


def test_clean_removes_markdown_emoji_urls():
    raw = "## Hi!\n- **Bold** move 😊 see [the docs](http://x.y/z) or https://example.com/a?b=c.\n`code` ok"
    assert clean_for_speech(raw) == "Hi! Bold move see the docs or the link code ok"


def test_clean_drops_role_prefix_and_stray_symbols():
    assert clean_for_speech("Samantha: I *really* think so #yes") == "I really think so yes"


def _stream(text, size=3):
    return [text[i:i + size] for i in range(0, len(text), size)]


def test_first_clause_released_early_then_sentences():
    text = "Well, that sounds like a lovely plan, and I'd love to hear more. Tell me about it! What else?"
    chunker = SpeechChunker(first_clause_min=4)
    out = []
    for d in _stream(text):
        out += chunker.push(d)
    out += chunker.flush()
    assert out == ["Well,", "that sounds like a lovely plan,", "and I'd love to hear more.", "Tell me about it!", "What else?"]


def test_opening_interjection_is_released_alone_other_short_clauses_are_not_cut():
    """"Oh," alone sounds at once (it is usually in the opener cache); "Dear me," is one word
    short of a first clause and waits for the sentence."""
    assert list(speakable_chunks(_stream("Oh, hello there. Fine."))) == ["Oh,", "hello there.", "Fine."]
    assert list(speakable_chunks(_stream("Oh no, I'm sorry, that is sad. Yes, it is."))) == [
        "Oh no,", "I'm sorry,", "that is sad.", "Yes, it is."]
    assert list(speakable_chunks(_stream("Dear me, hello there. Fine."), first_clause_min=3)) == ["Dear me, hello there.", "Fine."]


def test_short_pieces_cut_long_sentences_at_clauses_then_words():
    text = 'She said "Hi." Then we left, and the long sentence goes on and on, with many clauses, until it ends. Ok!'
    pieces = short_pieces(text, 8)
    assert pieces == ['She said "Hi."', "Then we left,", "and the long sentence goes on and on,", "with many clauses, until it ends.", "Ok!"]
    assert short_pieces("one two three four five six seven", 3) == ["one two three", "four five six", "seven"]
    assert short_pieces("I met Dr. Smith today. Nice!", 8) == ["I met Dr. Smith today.", "Nice!"]
    assert " ".join(short_pieces(text, 8)) == text


def test_abbreviations_do_not_split():
    assert list(speakable_chunks(_stream("I met Dr. Smith today. Nice."))) == ["I met Dr. Smith today.", "Nice."]


def test_long_run_without_punctuation_is_cut_at_a_space():
    text = "word " * 100
    chunks = list(speakable_chunks(_stream(text), max_chars=60))
    assert all(len(c) <= 60 for c in chunks)
    assert " ".join(chunks).split() == text.split()


def test_markdown_only_chunks_vanish():
    assert list(speakable_chunks(["**", "** ", "\n\n"])) == []
