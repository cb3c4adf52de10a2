# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TORCH  ?= torch==2.13.0

.PHONY: run test bench bench-scale bench-soak setup index clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install only when the project's dependencies change. torch first, pinned to the CPU build
# that pip finds on this machine, so nothing pulls in a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check $(TORCH)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

index: setup
	$(BIN)/qa index

# The chat builds or syncs the index itself (with a progress bar): one model load, not two.
run: setup
	$(BIN)/qa chat

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python -m bench.run

# 20,000+ passages: index time and memory, latency, exact vs HNSW recall, chat memory (~25 min first run)
# then 100,000 passages on milvus-lite beside local FAISS + bm25s, stand-in vectors (~11 min of builds, then the timed searches; bench.milvus_scale)
bench-scale: setup
	$(BIN)/python -m bench.scale
	$(BIN)/python -m bench.milvus --scale 100000

# 1,000 questions through run_eval in one process: latency and memory per 100 questions
bench-soak: setup
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) index/gen-* index/.tmp-* index/CURRENT index/.lock
