# Two commands on a fresh clone (README Quick start): `make run` and `make test`.
# Each creates .venv inside the clone and installs what it needs; later calls reuse it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test test-thorough verify-thorough bench compare book ant-cpu clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# stamps: reinstall when pyproject.toml changes
$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.all: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,notebooks,continuous,book]'
	touch $@

## run: TRIRL on the default grid world; writes runs/grid-icy_goal-*/ (ARGS="--world four_rooms" to change)
run: $(VENV)/.core
	$(BIN)/trirl grid $(ARGS)

## test: the whole suite with the bounded, deterministic hypothesis profile CI uses
test: $(VENV)/.all
	CI=true HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest -n 2 -q $(PYTEST_ARGS)

## test-thorough: the deep property sweep (>= 10,000 examples per property); hours on 2 cores
test-thorough: $(VENV)/.all
	HYPOTHESIS_PROFILE=thorough $(BIN)/python -m pytest -q tests/tabular/test_properties.py $(PYTEST_ARGS)

## verify-thorough: `trirl verify` at 10,000 examples per property on both cores (about 40 min),
## into runs/verify-thorough.json; interrupted, the same command resumes where it stopped.
## The committed table of this profile is book/verify-thorough.json.
verify-thorough: $(VENV)/.core
	mkdir -p runs
	$(BIN)/trirl verify --thorough --seed 20261123 --jobs 2 --json runs/verify-thorough.json --resume

## bench: the tabular benchmark (prints figures, writes book/results/tabular-bench.json)
bench: $(VENV)/.core
	$(BIN)/trirl bench tabular

## compare: every tabular IRL method on every shipped world, with transfer (under two minutes);
## regenerates the committed book/results/compare (README "Comparing IRL methods")
compare: $(VENV)/.core
	$(BIN)/trirl compare --world all --iterations 300 --transfer --out book/results/compare --overwrite

## book: build the book (runs every chapter) into book/_build/html
book: $(VENV)/.all
	book/build.sh

## ant-cpu: Ant on a laptop CPU (continuous/README.md "Ant on a laptop CPU"): the Ant-Disabled
## expert, then TRIRL with feature-based (ant:paper, ant:generic) and MLP rewards and GAIL on Ant
## from the committed Ant expert's demonstrations, each in resumable 10-minute pieces, then
## retraining on the feature-based rewards and the transfer to Ant-Disabled, the absorbing-reward
## probe, then the report (continuous/results/ant_cpu/); into
## runs/ant_cpu/. Hours on 2 cores; interrupted, the same command continues where it stopped.
## ANT_RETRAIN_STEPS sets the retraining budget per run (PPO on the true reward needs about
## 1.6 M steps to reach 0.8 on Ant with this config).
ANT := runs/ant_cpu
ANT_RETRAIN_STEPS ?= 2000000
# fresh policies start as the Ant PPO configs do (log std -0.5), not at evaluate's default std 1
ANT_RETRAIN := --steps $(ANT_RETRAIN_STEPS) --init-log-std -0.5
# $(call pieces,COMMAND,RUN_DIR,DONE_FILE): COMMAND --out RUN_DIR in 10-minute pieces (--resume
# once RUN_DIR holds a run) until DONE_FILE exists or COMMAND prints "trained" (an error stops make)
pieces = until test -f $(3); do \
	  out=$$($(1) --out $(2) --max-minutes 10 $$(test -f $(2)/config.json && echo --resume) 2>&1) || { echo "$$out"; exit 1; }; \
	  echo "$$out" | tail -n 2; echo "$$out" | grep -q '^trained ' && touch $(3); done
ant-cpu: $(VENV)/.all
	mkdir -p $(ANT)
	$(call pieces,$(BIN)/trirl expert train --env ant_disabled --config continuous/ant_disabled_expert_cpu.toml,$(ANT)/ant_disabled_expert,$(ANT)/ant_disabled_expert/trained)
	test -f $(ANT)/ant_disabled_expert/returns.json || $(BIN)/trirl expert evaluate \
	    --checkpoint $(ANT)/ant_disabled_expert --episodes 100 --out $(ANT)/ant_disabled_expert/returns.json
	for run in trirl_ant_cpu_features trirl_ant_cpu_generic trirl_ant_cpu gail_ant_cpu; do \
	  $(call pieces,$(BIN)/trirl train --config continuous/$$run.toml --no-progress,$(ANT)/$$run,$(ANT)/$$run/summary.json) || exit 1; done
	for run in trirl_ant_cpu_features trirl_ant_cpu_generic; do \
	  test -f $(ANT)/$$run/retrain.json || $(BIN)/trirl evaluate --run $(ANT)/$$run $(ANT_RETRAIN) \
	      --out $(ANT)/$$run/retrain.json || exit 1; \
	  test -f $(ANT)/$$run/transfer.json || $(BIN)/trirl evaluate --run $(ANT)/$$run $(ANT_RETRAIN) \
	      --env ant_disabled --expert-returns $(ANT)/ant_disabled_expert/returns.json --out $(ANT)/$$run/transfer.json || exit 1; \
	done
	for run in trirl_ant_cpu_features trirl_ant_cpu_generic; do \
	  test -f $(ANT)/$$run/retrain_absorbing_probe.json || $(BIN)/trirl evaluate --run $(ANT)/$$run $(ANT_RETRAIN) \
	      --absorbing-reward demonstrations-min --out $(ANT)/$$run/retrain_absorbing_probe.json || exit 1; \
	done
	$(BIN)/trirl bench report --runs $(ANT) --out continuous/results/ant_cpu/ant_cpu.json \
	    --figure continuous/results/ant_cpu/learning_curves.png --line "standing still=0.43" \
	    --note "TRIRL (linear in ant:paper, encoder of ant:generic, MLP of (s, a)) and GAIL on Ant from the CPU expert's 30 demonstrations, one seed each, 2-core CPU"

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
