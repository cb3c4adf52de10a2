"""Understanding a question once: its words, names, answer kind, time scope and what it carries from earlier turns.

Every later stage (retrieval, scoring, abstention) reads the `Question` record made here; none parses the
question's text again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.answer.features import year_spans
from qa.answer.kinds import measure_noun, question_type
from qa.errors import QuestionError
from qa.lexical import tokenize

# an open request about an organisation or an article, not a question with one answer
OPEN = re.compile(
    r"^\s*(?:please\s+)?(?:tell me (?:more )?about|summari[sz]e|give (?:me )?(?:an overview|a summary) of|"
    r"(?:what do|what does) (?:the|this|that) (?:articles?|story|stories|report) say about|describe|overview of)\b", re.I
)
# "Where did it do well, and where must it improve?": a second question joined to the first
PARTS = re.compile(r"(?:,\s*|\s+)and\s+(?=(?:what|where|when|who|which|how|why|into how)\b)|\?\s+(?=\S)", re.I)
# the first of them must ask something itself: "Tolimir was found guilty of genocide and what other charge?" is one
ASKS = re.compile(r"\b(?:what|where|when|who|whom|whose|which|how|why)\b|^\s*(?:is|are|was|were|do|does|did|has|have|had|"
                  r"can|could|will|would|should|tell|list|name|give|summari[sz]e|compare|describe)\b", re.I)
# a question about change over time, answered with a dated quote from each article
# how a quantity moves over time: "changed", "grown", "fallen" ...
_MOVES = r"(?:change|changed|changing|evolve|evolved|develop|developed|moved|shifted|grown|grow|risen|rise|fallen|increased|decreased|declined|improved|worsened)"
TIMELINE = re.compile(
    rf"^\s*how(?:'?s| (?:has|have|did|do|does)) .{{0,80}}(?<!about )(?<!to )(?<!a )\b{_MOVES}\b|"
    # "has X grown since ...", "did X change between 2016 and 2018": a move anchored in time
    rf"^\s*(?:has|have|did|does|do) .{{0,80}}\b{_MOVES}\b.{{0,40}}\b(?:since|between\b.{{0,40}}\band|from (?:19|20)\d\d)\b|"
    rf"\b{_MOVES}\b.{{0,60}}\bover (?:the|recent) years\b|\b{_MOVES}\b.{{0,60}}\bover time\b|"
    r"\b(?:rise|rose|risen|grow|grew|increase|increased|improve|improved) or (?:fall|fell|fallen|shrink|shrank|decrease|decreased|worsen|worsened)\b|"
    r"^\s*what happened to .{0,80}\bbetween\b.{0,40}\band\b|"
    r"^\s*what (?:is|was|has been) the trend\b", re.I
)
# a yes/no question ("Was Hull rated outstanding?"): no span of a quote answers it ("X or Y?" does)
POLAR = re.compile(r"^\s*(?:is|are|was|were|do|does|did|has|have|had|can|could|will|would|should)\b(?!.*\bor\b)", re.I)
# ... unless it opens with a condition and then asks ("Had he not died, what charges ...?")
CONDITION = re.compile(r"^\s*(?:had|were|should)\b[^,?]*,\s*(?:what|which|who|whom|whose|when|where|why|how)\b", re.I)
WHY = re.compile(r"^\s*(why|how come|what (caused|led|happened|was the reason))\b|\breasons?\b", re.I)
# a follow-up that refers back ("its chief officer") needs the names of an earlier turn
ANAPHOR = re.compile(r"\b(it|its|it's|they|them|their|theirs|he|him|his|she|her|hers|this|that|these|those|there|the same)\b", re.I)
# "the CCG", "the MP": one thing, named in an earlier turn; "And ...?", "What about ...?": a follow-up by its opening
DEFINITE = re.compile(r"\b[Tt]he\s+(?:[A-Z]{2,}(?!s\b)|trust|group|body|organisation|board|report|assessment)\b")
CONNECTIVE = re.compile(r"^\s*(?:and|so|but|also|then|what about|how about)\b", re.I)
WHOLE_QUESTION_WORDS = 7  # a question this long without a word pointing back asks afresh
# "said that ratings ...": this "that" introduces what was said and points back to nothing
SAID_THAT = re.compile(r"\b(said|says|say|claimed|warned|stated|added|argued|believed?|thinks?|thought|suggested|"
                       r"announced|insisted|explained|admitted)\s+that(?=\s+\w)", re.I)
QUESTION_WORDS = frozenset("what which who whom whose when where why how is are was were do does did can could will would".split())
# "what is the salary of ...": the noun after the question word is the thing asked about
FOCUS = re.compile(
    r"^\s*(?:what|which|how many|how much)\s+(?:(is|was|are|were|did|does|do|has|have|had)\s+)?(?:(the|a|an)\s+)?"
    r"([a-z]+)\b(?!['’]t\b)", re.I  # "didn't" is no noun; "company's" is
)
# ... unless it is a verb: "What happens ...", "What led to ...", "What has happened ...", "What is driving ..." (base
# forms are left out: after "did" or "does" the word is the subject, and "what cause", "what make" ask about a noun)
FOCUS_VERBS = frozenset(
    "happens makes made causes drives drove driven leads led takes took taken brings brought prompts gets got gone goes "
    "went comes came gives gave given keeps kept becomes became remains means meant says said thinks thought".split()
)
ED_NOUNS = frozenset("bed breed creed deed feed greed hundred need red reed seed shed sled speed steed tweed weed".split())
ING_NOUNS = frozenset(  # "what is funding for ...": an -ing noun, not a verb
    "borrowing building ceiling clothing evening feeling funding housing meaning meeting morning nursing offering "
    "painting planning pricing ranking rating reading ruling saving setting spending staffing thing training wedding "
    "writing".split()
)
# nouns that only name the kind of answer ("what percentage", "what role"): the articles needn't use them
TYPE_NOUNS = frozenset(
    "percentage percent proportion share fraction number amount total date day month year time kind type sort role "
    "position job title name reason way money cash".split()
)
# "how many", "how much": the question word's own words, not something the answer must hold
HOW_MANY = re.compile(r"\bhow\s+(many|much)\b", re.I)
YEAR = re.compile(r"\b(?:19|20)\d\d(?:[/-]\d\d)?\b")
# "the latest report", "who is now ...": the newest article among those in the running; "originally": the oldest
LATEST = re.compile(
    r"\b(?:latest|most recent(?:ly)?|newest|currently|current(?!\s+accounts?\b)|nowadays|at present|at the moment|now)\b",
    re.I,
)
FIRST = re.compile(
    r"\b(?:originally|initially|earliest|at first|first (?:ratings?|assessments?|reports?|rated|assessed|published|"
    r"announced|placed|given))\b",
    re.I,
)
# "this week", "recently", "today": news of the days before the day it is asked
RECENT = re.compile(
    r"\b(?:this|last|past) (?:week|weekend|month)\b|\bin (?:the )?recent (?:days|weeks)\b|\brecently\b|\btoday\b|"
    r"\byesterday\b|\bthis (?:morning|afternoon|evening)\b|\bthese days\b",
    re.I,
)
# words quoted in a question are not its own time words ("..." or '...', not an apostrophe's "UK's")
QUOTED = re.compile(r"[\"“][^\"”]*[\"”]|[‘][^’]*[’]|(?<!\w)'[^']*'(?!\w)")
# asks who said something: "who said ...", "who called X disappointing", "according to whom ..."
# "Compare Cambridgeshire's 2016 and 2018 ratings", "How does Hull differ from Doncaster?": two things side by side
COMPARE = re.compile(r"^\s*(?:compare|contrast)\b|\bdiffer(?:s|ence|ences)? (?:between|from)\b", re.I)
# "who" opening a question, or after a lead-in ("could you remind me who ...")
_ASKS_WHO = r"(?:^\s*|\b(?i:me|us|know|wonder|wondering|recall|remember)\s+)(?i:who)\s+"
WHO_SAID = re.compile(
    _ASKS_WHO +
    r"(?:it\s+was\s+(?:that\s+|who\s+)?|was\s+it\s+(?:that\s+|who\s+)?|it\s+is\s+that\s+|is\s+it\s+that\s+)?"
    r"(?:\w+ly\s+)?(?:said|says|sed|say|called|calls|described|describes|admitted|promised|explained|spoke|"
    r"credited|claimed|warned|added|stated|told|insisted|argued|suggested|welcomed|criticised|criticized|praised|"
    r"blamed|thanked|announced|commented|declared)\b|\baccording to (?:whom|who)\b",
    re.I,
)
# asks who did something: "Who held ...", "Who has criticised ...", "Could you tell me who ..."; not "Who will the CCG
# involve" or "Who is ...", nor "Who will lead ..." (after a helper verb other than "has", whom or who is unclear)
_ADVERB = r"(?:(?i:\w+ly|else)\s+)?"  # "Who exactly is", "Who else will"
_HELPER = r"(?i:will|would|did|does|do|has|have|had|can|could|should|may|might|must|is|was|are|were|\w+n['’]t)"
WHO = re.compile(
    _ASKS_WHO + rf"(?:(?!{_ADVERB}{_HELPER}\b)\w"  # a verb straight after it, or "has" + a participle (not "been")
    rf"|{_ADVERB}(?i:has|have|had)\s+(?:(?i:not|never|also)\s+)?(?!(?i:been)\b)\w+(?i:ed|en)\b)"
)
_WORD = re.compile(r"[\w’'/-]+|&")
_LINKS = frozenset({"and", "of", "&"})
_ACRONYM = re.compile(r"[A-Z]+s?")  # "CCG", "CCGs", "NHS": a kind of body more often than one named body


def is_acronym(word: str) -> bool:
    """Whether a word is an acronym, plural or possessive too ("CCG", "CCGs", "CCG's")."""
    return bool(_ACRONYM.fullmatch(re.sub(r"['’]s$", "", word)))


@dataclass(frozen=True)
class Name:
    """A run of capitalised words ("Cambridgeshire and Peterborough"), and whether it opens a sentence."""

    text: str
    words: tuple[str, ...]
    starts: tuple[int, ...]  # where each word starts in `text`
    opens: bool


@dataclass(frozen=True)
class Word:
    """A word of the question and its index tokens ("Derbyshire's" -> ("derbyshir",))."""

    text: str
    tokens: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> "Word":
        """The word with its tokens."""
        return cls(text, tuple(tokenize(text)))


@dataclass(frozen=True)
class Question:
    """A question as every stage reads it, made once by `understand`."""

    text: str  # the question, controls stripped and spaces normalised
    query: str  # what retrieval searches for: the question plus what it carries from earlier turns
    carried: tuple[str, ...]  # names, years or a whole earlier question brought in from earlier turns
    tokens: tuple[str, ...]  # the question's own index tokens, in order
    query_tokens: tuple[str, ...]  # the query's index tokens, each once, in order
    names: tuple[Word, ...]  # its capitalised words and years (question words and sentences' first words aside)
    proper_names: tuple[Word, ...]  # the same words of the query (with what it carries), acronyms aside
    carried_names: tuple[Word, ...]  # the capitalised words it carries from earlier turns
    kind: str | None  # the kind of answer wanted: count, percent, money, quantity, date (qa.answer.kinds)
    type_noun: Word | None  # a noun naming only that kind ("role" in "what role ..."): no answer need hold it
    measure: Word | None  # a measure whose value is asked for ("population" in "what is the population of")
    focus: Word | None  # the thing asked about ("salary" in "what is the salary of ...")
    why: bool  # asks for a reason
    open: bool  # an open request ("Tell me about North Derbyshire CCG", "Summarise the 2020 article")
    timeline: bool  # about change over time ("How has the number of inadequate CCGs changed?")
    scope: frozenset[tuple[int, int]] = frozenset()  # its time scope: the periods it names, "2019/20" -> (2019, 2020)
    who_said: bool = False  # asks who said something: the answer is a quote's speaker
    who: bool = False  # asks who did something ("Who held ...", `WHO`): a quote's speaker may be the answer
    compare: bool = False  # sets two things side by side: no one span answers it
    polar: bool = False  # a yes/no question: no short answer
    refers_back: bool = False  # it has a word pointing to an earlier turn ("its", "they", "that")
    parts: tuple[str, ...] = ()  # the questions a two-part question joins, each to be answered (else empty)
    order: str = ""  # "latest" ("the latest report", "now") or "first" ("originally"), when it names no year
    recent: bool = False  # asks about the news of the days before it is asked ("this week", "recently")
    asked: str = ""  # the day it is asked on ("2022-07-08"): no later article is the latest; "": no day (Engine.ask: today)
    wh_tokens: frozenset[str] = frozenset()  # "many" of "how many", "much" of "how much": the question word's, not words to match
    read_text: str = ""  # the text as read, misspelt words corrected ("" when none was): what its words are

    @property
    def as_read(self) -> str:
        """The question as read: its text with misspelt words corrected ("how mnay ccgs" -> "how many ccg")."""
        return self.read_text or self.text

    @property
    def subject(self) -> frozenset[str]:
        """What an open request or a question about change is about: its proper names' tokens (acronyms aside:
        "CCG", "CCGs" name no one)."""
        return frozenset(t for w in self.proper_names if not is_acronym(w.text) for t in w.tokens)

    @property
    def one_span(self) -> bool:
        """Whether one span of a sentence can answer it: not an overview, a timeline, two questions in one, a reason
        (a clause), a yes/no, who said it (the speaker is named by the sentence cited with the quote; a span scorer
        would pick any name) or a comparison."""
        return not (self.open or self.timeline or self.parts or self.why or self.polar or self.who_said or self.compare)


def normalise_question(question: str, max_chars: int) -> str:
    """Strip controls and extra spaces; QuestionError when empty or too long."""
    from qa.clean import strip_controls

    text = " ".join(strip_controls(question).split())
    if not text or not re.search(r"\w", text):
        raise QuestionError("the question is empty: type a question, e.g. \"why was North Derbyshire rated inadequate?\"")
    if len(text) > max_chars:
        raise QuestionError(f"the question is {len(text)} characters long; the limit is {max_chars}: shorten it")
    return text


def history_questions(history: list | tuple | None) -> list[str]:
    """Earlier questions, oldest first, from strings or {"question", "answer"} objects."""
    out = []
    for turn in history or []:
        if isinstance(turn, str):
            out.append(turn)
        elif isinstance(turn, dict) and isinstance(turn.get("question"), str):
            out.append(turn["question"])
    return [q for q in out if q.strip()]


def find_names(text: str) -> list[Name]:
    """Runs of capitalised words, joined by "and", "of" or "&" ("Cambridgeshire and Peterborough"); question words aside."""
    names: list[Name] = []
    run: list[re.Match] = []
    for m in _WORD.finditer(text):
        word = m.group(0)
        capital = word[:1].isupper() and word.lower() not in QUESTION_WORDS
        joined = bool(run) and not text[run[-1].end():m.start()].strip()
        if capital and joined:
            run.append(m)
        elif word in _LINKS and joined and run[-1].group(0) not in _LINKS:
            run.append(m)
        else:
            _close(text, run, names)
            run = [m] if capital else []
    _close(text, run, names)
    return names


def _close(text: str, run: list[re.Match], names: list[Name]) -> None:
    while run and run[-1].group(0) in _LINKS:  # "Hull and" then no name: the link isn't part of it
        run.pop()
    if run:
        opens = not text[:run[0].start()].strip() or bool(re.search(r"[.?!]\s$", text[:run[0].start()]))
        base = run[0].start()
        names.append(Name(text[base:run[-1].end()], tuple(m.group(0) for m in run), tuple(m.start() - base for m in run), opens))


def name_words(names: list[Name]) -> list[str]:
    """The capitalised words of names, links aside, and a sentence's opening word (capitalised by grammar)."""
    return [w for n in names for i, w in enumerate(n.words) if w not in _LINKS and not (i == 0 and n.opens)]


def carried_names(names: list[Name]) -> list[str]:
    """The names a follow-up can carry: an opening word is capitalised by grammar, and acronyms name kinds."""
    out = []
    for n in names:
        first = 1 if n.opens else 0
        while first < len(n.words) and n.words[first] in _LINKS:
            first += 1
        words = n.words[first:]
        if words and not (len(words) == 1 and _ACRONYM.fullmatch(words[0])):
            out.append(n.text[n.starts[first]:])
    return out


def focus_noun(text: str) -> str:
    """The noun right after the question word ("salary" in "What is the salary of ..."), "" when none or a verb:
    one listed, a past tense straight after it ("What prompted ..."), a participle after "has" ("What has happened
    ..."), an -ing after "is" ("What is driving ...", but not "What is funding ...")."""
    m = FOCUS.match(text)
    if not m:
        return ""
    aux, det, word = (m.group(1) or "").lower(), m.group(2), m.group(3).lower()
    if det:
        return m.group(3)
    if word in FOCUS_VERBS:
        return ""
    if aux in ("", "has", "have", "had") and word.endswith(("ed", "en") if aux else ("ed",)) and word not in ED_NOUNS:
        return ""  # "What prompted ...", "What has driven ..."
    if aux in ("is", "was", "are", "were") and word.endswith("ing") and word not in ING_NOUNS:
        return ""  # "What is driving ..."
    return m.group(3)


def understand(text: str, history: list | tuple | None = None, max_chars: int = 2000) -> Question:
    """The question as every later stage reads it; QuestionError when it is empty or too long."""
    text = normalise_question(text, max_chars)
    names = find_names(text)
    carried = _carry(text, names, history_questions(history))
    query = " ".join((text, *carried))
    carried_words = [w for c in carried for w in _WORD.findall(c) if w[:1].isupper() and w.lower() not in QUESTION_WORDS]
    query_words = name_words(names) + carried_words
    noun = focus_noun(text)
    measure = measure_noun(text)
    scope = year_spans(text)
    order, recent = time_words(text, scope)
    return Question(
        text=text, query=query, carried=carried,
        tokens=tuple(tokenize(text)), query_tokens=tuple(dict.fromkeys(tokenize(query))),
        wh_tokens=frozenset(tokenize(" ".join(m.group(1) for m in HOW_MANY.finditer(query)))),  # an earlier question too
        names=tuple(map(Word.of, name_words(names) + YEAR.findall(text))),
        proper_names=tuple(Word.of(w) for w in query_words if not w.isupper()),
        carried_names=tuple(Word.of(w) for w in carried_words if not w.isupper()),
        kind=question_type(text), measure=Word.of(measure) if measure else None,
        type_noun=Word.of(noun.lower()) if noun.lower() in TYPE_NOUNS else None,
        # an open request ("What do the articles say about ...") asks about its names, not a thing
        focus=Word.of(noun) if noun and noun.lower() not in TYPE_NOUNS | QUESTION_WORDS and not OPEN.match(text) else None,
        why=bool(WHY.search(text)), open=bool(OPEN.match(text)),
        timeline=bool(TIMELINE.search(text)),
        scope=scope, who_said=bool(WHO_SAID.search(text)), who=bool(WHO.search(text)),
        polar=bool(POLAR.match(text)) and not CONDITION.match(text),
        compare=bool(COMPARE.search(text)),
        refers_back=bool(ANAPHOR.search(text)),
        parts=split_parts(text),
        order=order, recent=recent,
    )


def time_words(text: str, scope: frozenset[tuple[int, int]]) -> tuple[str, bool]:
    """Its order ("latest", "first" or "") and whether it asks about the news of the days before it is asked ("this
    week"), when it names no year (`scope`). Words it quotes don't count, nor a who-said question's "now", nor a
    question asking for both orders."""
    if scope:
        return "", False
    own = QUOTED.sub(" ", text)
    latest, first = bool(LATEST.search(own)), bool(FIRST.search(own))
    order = "" if WHO_SAID.search(text) or latest == first else "latest" if latest else "first"
    return order, bool(RECENT.search(own))


def split_parts(text: str) -> tuple[str, ...]:
    """The questions a two-part question joins ("Where did it do well, and where must it improve?"), or ()."""
    parts = [p.strip(" ,?") for p in PARTS.split(text)]
    parts = [p for p in parts if len(p.split()) >= 3]
    return tuple(parts) if len(parts) > 1 and ASKS.search(parts[0]) else ()


def stands_alone(text: str, names: list[Name]) -> bool:
    """A question that carries nothing from earlier turns: no word pointing back ("its"), and either a name of its own
    or a whole question that doesn't lean on one ("the CCG", "And ...?"): "How many CCGs were rated inadequate in
    2017-18?"."""
    if ANAPHOR.search(SAID_THAT.sub(r"\1", text)):
        return False
    if carried_names(names):  # "What about Hull CCG?": its own name takes the earlier one's place
        return True
    said = WHO_SAID.search(text)
    if said and len(_WORD.findall(text[said.end():])) >= 2:  # "Who said that ratings aren't everything?": what was said
        return True
    return not DEFINITE.search(text) and not CONNECTIVE.match(text) and len(_WORD.findall(text)) >= WHOLE_QUESTION_WORDS


def _carry(text: str, names: list[Name], earlier: list[str]) -> tuple[str, ...]:
    """What a follow-up brings in from the latest earlier turn that has names or years (or that turn itself)."""
    if not earlier or stands_alone(text, names):
        return ()
    for prev in reversed(earlier):
        found = carried_names(find_names(prev)) + YEAR.findall(prev)
        if found:
            return tuple(found)
    return (earlier[-1],)
