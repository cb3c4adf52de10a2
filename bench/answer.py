"""Answer latency benchmark (filled in with `qa ask`)."""


def bench_answer(index_dir, corpus, embedder, questions) -> dict:
    return {}
