"""Fit the abstention model on training data: logistic regression over `Evidence`, threshold by a decline budget.

    python -m bench.fit [--squad-limit N] [--max-declined 0.05] [--out qa/answer/weights.json] [--on-their-day]
    python -m bench.fit --validate   (the shipped hybrid model on squad-train's last 2,000 and news-dev's last 482, ~2 min)

Training data: `../shared/bench/squad-train` (Wikipedia, no article shared with `bench/squad`) and the
first 1,497 questions of `../shared/bench/news-dev` (quizzes of 2020-01 to 2022-06, asked today, or with
--on-their-day each on its quiz's day; the 482 from 2022-07 on are the validation part, never fitted on). Each
question is asked twice: as it is (the answer counts as right when its first quote is from a gold article and,
where the set has evidence sentences, holds a gold answer) and with its gold articles
taken out of the index (an unanswerable question with realistic near misses; never right), and a near miss of
it is asked of the full index when it names a year or a name: the same question about another year its gold
articles never name, or about a name from another question they never use (never right). The model
predicts "the first quote is right"; the threshold is the highest that declines at most --max-declined
of each training set's answerable questions. Nothing here is fitted on questions/ccg.jsonl or bench/squad.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "bench"
NEWS_TRAIN = 1497  # news-dev questions before 2022-07-01
ON_THEIR_DAY = ", each asked on its quiz's day"
YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")  # a year a near miss may move


@dataclass(frozen=True)
class Sample:
    """One question asked one way: its evidence vector, whether the first quote was right, whether answerable."""

    x: list[float]
    right: bool
    answerable: bool
    source: str  # which training set


def training_sets(squad_limit: int, on_their_day: bool = False) -> list[tuple[Path, Path, list]]:
    """(corpus, questions file, questions) for each training set; news-dev's quizzes asked today, or on their day."""
    from bench.asked import quiz_day
    from qa.evaluate import load_questions

    squad = SHARED / "squad-train"
    news = SHARED / "news-dev"
    return [
        (squad / "corpus", squad / "questions.jsonl", list(load_questions(squad / "questions.jsonl", squad_limit))),
        (news / "corpus", news / "questions.jsonl", [replace(q, asked=quiz_day(q.id) if on_their_day else "")
                                                     for q in load_questions(news / "questions.jsonl", NEWS_TRAIN)]),
    ]


def open_cached(corpus: Path):
    """A session over the corpus's cached evaluation index (built on first use, as `qa eval --corpus` does)."""
    from qa.cli import eval_config
    from qa.config import Config
    from qa.session import open_session

    return open_session(eval_config(Config.from_env(corpus_dir=corpus), True, False))


def samples(session, questions: list, mode: str) -> list[Sample]:
    """Every question asked as it is, with its gold articles left out, and as a near miss (another year, another
    name) of the full index."""
    engine = session.engine
    source = session.cfg.corpus_dir.parent.name
    vocab = engine.retriever.index.lexical.vocab
    understood = [replace(engine.understand(q.question, q.history), asked=q.asked) for q in questions]
    misses = near_misses(engine, questions)
    engine.retriever.prime([u.query for u in understood] + [engine.understand(m).query for m in misses.values()])
    out = []
    for q, u in zip(questions, understood):
        for skip in (frozenset(), frozenset(q.doc_ids)):
            out += _ask(engine, q, u, mode, skip, Without(engine, skip) if skip else vocab, source)
        if q.id in misses:
            miss = replace(engine.understand(misses[q.id]), asked=q.asked)
            out += _ask(engine, q, miss, mode, frozenset(), vocab, source, near_miss=True)
    return out


def near_misses(engine, questions: list) -> dict[str, str]:
    """A near miss of each question that names a year or a name: the same question about another year its gold
    articles never name, or about a name from another question that its gold articles never use (the right
    subject in the wrong year, a fact another organisation has)."""
    import zlib

    from qa.answer.question import find_names, name_words
    from qa.lexical import tokenize

    vocab = engine.retriever.index.lexical.vocab
    gold = {q.id: " ".join(engine.store.article(d).text for d in q.doc_ids) for q in questions if q.doc_ids}
    runs = [n.text for q in questions for n in find_names(q.question) if not n.opens and len(n.text) > 3]
    out: dict[str, str] = {}
    for q in questions:
        if q.id not in gold or q.unanswerable:
            continue
        text, held = gold[q.id], set(tokenize(gold[q.id]))
        seed = zlib.crc32(q.id.encode())
        if YEAR.search(q.question):
            sign = 1 if seed % 2 else -1
            moved = move_year(q.question, [s * sign for s in (3, -3, 5, -5, 7, -7, 11, -11)], lambda y: y in text)
            if moved:
                out[q.id] = moved
            continue
        names = [n for n in find_names(q.question) if name_words([n])]
        if not names:
            continue
        name = names[seed % len(names)]
        for k in range(len(runs)):
            cand = runs[(seed + k * 7919) % len(runs)]
            toks = tokenize(cand)
            if toks and all(t in vocab for t in toks) and not any(t in held for t in toks):
                out[q.id] = q.question.replace(name.text, cand, 1)
                break
    return out


def move_year(question: str, steps: list[int], taken) -> str | None:
    """The question with its first year moved by the first step whose year `taken` (a test) rejects, or None."""
    year = YEAR.search(question)
    for step in steps if year else ():
        other = str(int(year.group(1)) + step)
        if not taken(other):
            return question[: year.start()] + other + question[year.end():]
    return None


def _ask(engine, q, u, mode: str, skip: frozenset, known, source: str, near_miss: bool = False) -> list[Sample]:
    """One sample (or none, when a rule declines before the model is asked); a near miss is never right."""
    from qa.answer.abstention import about_nothing_known, gather, number_missing, unknown_focus

    if about_nothing_known(u, known, engine.tuning.unknown_names_share) or unknown_focus(u, known):
        return []
    hits = engine.retriever.search(u.query, k=engine.tuning.k_passages, mode=mode, skip_docs=skip | engine.later(u.asked))
    scored = engine.score(u, hits)
    if not scored.sentences or number_missing(u, scored.sentences[: engine.tuning.confidence_top], engine.features):
        return []
    cites = [] if skip or near_miss else engine.cite(scored, u)
    right = bool(cites) and _right(q, cites[0])
    x = gather(u, scored, hits, known, engine.features, engine.tuning).vector()
    return [Sample(x, right, not (skip or near_miss), source)]


class Without:
    """The index's vocabulary as it would be without some articles: a word only they use is unknown."""

    def __init__(self, engine, docs: frozenset[str]) -> None:
        from qa.lexical import tokenize

        self.lexical = engine.retriever.index.lexical
        store = engine.retriever.index.store
        rows = store.passages([pid for d in docs for pid in store.passage_ids_of(d)]).values()
        self.held: dict[str, int] = {}
        for row in rows:
            for t in set(tokenize(row.text)):
                self.held[t] = self.held.get(t, 0) + 1

    def __contains__(self, token: str) -> bool:
        return self.lexical.df(token) > self.held.get(token, 0)


def _right(q, cite) -> bool:
    """The first quote is right: from a gold article and, where the set gives evidence sentences, holding the answer.

    News quizzes give no evidence sentence and phrase answers their own way ("Iraq" for a Baghdad
    embassy), so there the gold article is what counts."""
    from qa.evaluate import quote_correct

    return quote_correct(q, cite.doc_id, cite.quote) if q.evidence else cite.doc_id in q.doc_ids


def fit(data: list[Sample], max_declined: float) -> dict:
    """Logistic regression weights, and the highest threshold declining at most max_declined of answerable questions."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([s.x for s in data])
    y = np.array([s.right for s in data])
    model = LogisticRegression(C=1.0, max_iter=2000).fit(x, y)
    p = model.predict_proba(x)[:, 1]
    answerable = np.array([s.answerable for s in data])
    sources = np.array([s.source for s in data])
    # the highest threshold that declines at most max_declined of each training set's answerable questions
    threshold = min(float(np.quantile(p[answerable & (sources == src)], max_declined)) for src in set(sources))
    return {"weights": [round(float(w), 5) for w in model.coef_[0]], "bias": round(float(model.intercept_[0]), 5),
            "threshold": round(threshold, 5), "train": _rates(p, y, answerable, threshold)}


def _rates(p: np.ndarray, y: np.ndarray, answerable: np.ndarray, t: float) -> dict:
    keep = p >= t
    return {
        "samples": int(len(p)), "answerable": int(answerable.sum()),
        "answerable_declined": round(float((~keep & answerable).sum() / max(answerable.sum(), 1)), 4),
        "unanswerable_declined": round(float((~keep & ~answerable).sum() / max((~answerable).sum(), 1)), 4),
        "answered_right": round(float((keep & y).sum() / max(keep.sum(), 1)), 4),
    }


def _samples_for(mode: str, sets: list, cache: Path | None) -> list[Sample]:
    """The samples of one mode, read from (or written to) the cache when one is named; a cache gathered with other
    features, another full-article cut-off or other questions is refused."""
    from qa.answer.abstention import Evidence
    from qa.answer.tuning import Tuning

    key = np.array([*Evidence.names(), f"full_article_sentences={Tuning().full_article_sentences}",
                    *(f"{path.parent.name}:{len(qs)}:{qs[0].asked if qs else ''}" for _, path, qs in sets)])
    path = cache.with_name(f"{cache.stem}-{mode}.npz") if cache else None
    if path and path.exists():
        z = np.load(path, allow_pickle=False)
        if "key" not in z or list(z["key"]) != list(key):
            raise SystemExit(f"{path} holds samples gathered another way: delete it to gather them again")
        return [Sample(list(x), bool(r), bool(a), str(s)) for x, r, a, s in zip(z["x"], z["right"], z["answerable"], z["source"])]
    data = [s for corpus, _, qs in sets for s in samples(open_cached(corpus), qs, mode)]
    if path:
        np.savez(path, key=key, x=np.array([s.x for s in data]), right=np.array([s.right for s in data]),
                 answerable=np.array([s.answerable for s in data]), source=np.array([s.source for s in data]))
    return data


def validation_sets() -> list[tuple[Path, Path, list]]:
    """(corpus, questions file, questions) for the parts never fitted on: squad-train's last 2,000, news-dev's last 482."""
    from qa.evaluate import load_questions

    squad, news = SHARED / "squad-train", SHARED / "news-dev"
    return [(squad / "corpus", squad / "questions.jsonl", list(load_questions(squad / "questions.jsonl"))[-2000:]),
            (news / "corpus", news / "questions.jsonl", list(load_questions(news / "questions.jsonl"))[NEWS_TRAIN:])]


def validate() -> None:
    """The shipped hybrid model's declines on the validation parts, asked as training questions are asked."""
    from qa.answer.abstention import Evidence, confidence
    from qa.answer.tuning import Tuning

    tuning = Tuning()
    for corpus, _, qs in validation_sets():
        data = samples(open_cached(corpus), qs, "hybrid")
        kept = [confidence(Evidence(*s.x), "hybrid", tuning) >= tuning.abstain_below for s in data]
        answerable = [k for k, s in zip(kept, data) if s.answerable]
        other = [k for k, s in zip(kept, data) if not s.answerable]
        print(f"{corpus.parent.name}: answerable declined {1 - sum(answerable) / max(len(answerable), 1):.4f}, "
              f"unanswerable declined {1 - sum(other) / max(len(other), 1):.4f} ({len(answerable)} and {len(other)} samples)")


def main() -> None:
    """Fit both modes' abstention models and write them with their provenance (or, --validate, check the shipped one)."""
    from qa.answer.abstention import Evidence
    from qa.answer.tuning import FITTED_PATH, Tuning

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad-limit", type=int, default=4000)
    parser.add_argument("--max-declined", type=float, default=0.06)
    parser.add_argument("--out", type=Path, default=FITTED_PATH)
    parser.add_argument("--samples", type=Path, help="keep the samples in this .npz (made once, reused by later fits)")
    parser.add_argument("--on-their-day", action="store_true", help="ask each news-dev quiz on its quiz's day")
    parser.add_argument("--validate", action="store_true", help="report the shipped model's declines on the validation parts")
    args = parser.parse_args()
    if args.validate:
        return validate()
    sets = training_sets(args.squad_limit, args.on_their_day)
    result: dict = {"features": list(Evidence.names()), "max_declined": args.max_declined,
                    "full_article_sentences": Tuning().full_article_sentences,
                    "data": [f"{path.parent.name}: {len(qs)} questions" + (ON_THEIR_DAY if qs and qs[0].asked else "")
                             for _, path, qs in sets]}
    for mode in ("hybrid", "bm25"):
        data = _samples_for(mode, sets, args.samples)
        result[mode] = fit(data, args.max_declined)
        print(mode, json.dumps(result[mode]), flush=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
