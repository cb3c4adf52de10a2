"""Cited answers: pick the articles' own sentences that answer a question, or abstain honestly.

The stages, each a module: `question` (understand it once), `scoring` (every sentence of the retrieved
passages, with `features` of each article), `abstention` (answer or not), `citation` (quotes, verified),
`engine` (the pipeline), `tuning` (every weight and cut-off).
"""

from qa.answer.citation import Citation, verify
from qa.answer.engine import Answer, Engine, RankedPassage
from qa.answer.question import Question, normalise_question, understand
from qa.answer.tuning import Tuning

__all__ = ["Answer", "Citation", "Engine", "Question", "RankedPassage", "Tuning", "normalise_question", "understand", "verify"]
