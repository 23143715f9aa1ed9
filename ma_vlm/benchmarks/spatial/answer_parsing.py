"""Turning a model's free-text answer into the value a benchmark compares with its ground truth.

Each public benchmark is scored with its own reference parser, and the parsers disagree on
purpose-built edge cases ("(C)", lower-case letters, "The answer is B"). To reproduce published
numbers the rules below follow each reference exactly, quirks included; every function names the
reference it reproduces. They are re-implementations from the published rules, not copies.

All functions take the response as the harness hands it to the scorer: lmms-eval strips
surrounding whitespace from every generation before scoring, and so do our scorers.
"""

from __future__ import annotations

import re
import string

# English number words that lmms-eval's VSI-Bench parser understands, and their values.
NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
}  # fmt: skip
_SIGNED_DECIMAL = re.compile(r"-?\d+(?:\.\d+)?")
_LETTER_WORD = re.compile(r"[a-z]+")


def _number_word_run(text: str) -> tuple[int, list[str]] | None:
    """(start, words) of the first run of number words; "and" and any non-letters between words
    do not end a run, the first other word does ("three hundred and five" -> 3 words)."""
    start, words = None, []
    for match in _LETTER_WORD.finditer(text):
        word = match.group(0)
        if start is None:
            if word in NUMBER_WORDS:
                start, words = match.start(), [word]
        elif word in NUMBER_WORDS:
            words.append(word)
        elif word != "and":
            break
    return None if start is None else (start, words)


def _number_words_value(words: list[str]) -> float:
    """"three hundred twenty one" -> 321.0; "hundred" and "thousand" multiply what precedes."""
    total, group = 0, 0
    for word in words:
        value = NUMBER_WORDS[word]
        if value == 100:
            group = max(group, 1) * 100
        elif value == 1000:
            total += max(group, 1) * 1000
            group = 0
        else:
            group += value
    return float(total + group)


def extract_number(response: str | None) -> float | None:
    """The first number in a response, as lmms-eval 0.7.x's VSI-Bench scorer reads it.

    Digits ("3", "-2.5", "350 cm" -> 350.0) or English number words ("three", "twenty-one",
    "three hundred and five"), whichever starts first in the lower-cased text; units are not
    converted and "5 or 6" gives 5.0. ``None`` when nothing numeric is found.
    """
    if response is None:
        return None
    text = str(response).strip().lower()
    if not text:
        return None
    digits = _SIGNED_DECIMAL.search(text)
    words = _number_word_run(text)
    if digits is not None and (words is None or digits.start() < words[0]):
        return float(digits.group(0))
    return None if words is None else _number_words_value(words[1])


def to_float(text) -> float | None:
    """``float(text)`` or ``None`` when it does not parse (how VSI-Bench reads ground truth)."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def vsibench_first_token(response: str) -> str:
    """VSI-Bench's multiple-choice "fuzzy match": the text before the first space, without
    trailing dots ("B. chair" -> "B", "(C)" stays "(C)")."""
    return response.split(" ")[0].rstrip(".").strip()


def leading_letter(response: str) -> str:
    """CV-Bench / EmbSpatial parser in lmms-eval: the first letter after optional "(" and
    spaces, upper-cased ("(c) table" -> "C", "The answer is B" -> "T"); "" when none."""
    match = re.match(r"[\(\s]*([A-Z])[\)\.\s]*", response.strip(), flags=re.IGNORECASE)
    return match.group(1).upper() if match else ""


def blink_letter(response: str, valid_letters: str = string.ascii_uppercase) -> str:
    """BLINK parser in lmms-eval 0.7.x; only letters in ``valid_letters`` count.

    In order: a short first line that is just the letter ("b", "(C)", "A."); the last
    "answer is (X)" statement; the last upper-case "(X)"; a leading valid letter. "" when none.
    """
    text = response.strip()
    letters = re.escape(valid_letters.upper())
    first_line = text.split("\n", 1)[0].strip()
    if len(first_line) <= 4:
        terse = re.match(rf"^\(?([{letters}])\)?[\.\s:,)]*$", first_line, flags=re.IGNORECASE)
        if terse:
            return terse.group(1).upper()
    stated = re.findall(
        rf"answers?(?:\s+is)?\s*[:\-]?\s*\(?([{letters}])\)?(?![A-Za-z])", text, flags=re.IGNORECASE
    )
    if stated:
        return stated[-1].upper()
    bracketed = re.findall(rf"\(([{letters}])\)", text)
    if bracketed:
        return bracketed[-1].upper()
    leading = re.match(rf"[\(\s]*([{letters}])[\)\.\s]*", text, flags=re.IGNORECASE)
    return leading.group(1).upper() if leading else ""


# 3DSRBench (lmms-eval / VLMEvalKit style): case-sensitive patterns tried in this order.
_THREEDSR_PATTERNS = [
    r"^([A-D])[\.\s\)]",
    r"^([A-D])$",
    r"[Aa]nswer[:\s]+([A-D])",
    r"[Tt]he answer is[:\s]+([A-D])",
    r"[Mm]y answer is[:\s]+([A-D])",
    r"\(([A-D])\)",
    r"([A-D])\.",
    r"\b([A-D])\b",
]


def threedsr_letter(response: str) -> str | None:
    """3DSRBench parser: the first of several upper-case A-D patterns that matches, so a
    lower-case "c" is not read; ``None`` when nothing matches."""
    if not response:
        return None
    text = response.strip()
    for pattern in _THREEDSR_PATTERNS:
        match = re.search(pattern, text)
        if match:
            return match.group(1).upper()
    return None


def sat_answer(response: str, question: str) -> str:
    """SAT's lmms-eval filter, then its exact-match normalisation (lower case, no punctuation).

    Option texts written as "A. text" inside the question are mapped back to letters when the
    response contains them (letters given in order of appearance); otherwise the response
    without punctuation is kept. Only the part before the first space is compared.
    """
    option_texts = [text.strip() for _, text in re.findall(r"\b([A-Z])\.\s+([^\n]*)", question)]
    letter_of = {text: chr(ord("A") + i) for i, text in enumerate(option_texts)}
    cleaned = re.sub(r"[^\w\s]", "", response).strip()
    found = re.search("|".join(re.escape(text) for text in option_texts), cleaned)
    parsed = letter_of[found.group()] if found and found.group() in letter_of else cleaned
    return _exact_match_normalise(parsed.split(" ")[0].strip())


def _exact_match_normalise(text: str) -> str:
    """lmms-eval's ``exact_match`` with ignore_case and ignore_punctuation."""
    return text.lower().translate(str.maketrans("", "", string.punctuation))


def sat_target(correct_answer_idx: int) -> str:
    """SAT ground truth letter (0 -> "a"), normalised like the prediction."""
    return _exact_match_normalise(chr(ord("A") + int(correct_answer_idx)))
