.PHONY: demo test dev bench lint
demo:  ## run the data pipeline on local defaults and search it
	bash scripts/demo.sh
test:  ## lint + the whole test suite
	bash scripts/test.sh
dev:  ## the Dagster UI on http://127.0.0.1:3000
	bash scripts/bootstrap.sh && DAGSTER_HOME=$(CURDIR)/.dagster_home .venv/bin/dg dev
bench:  ## pipeline throughput benchmark
	bash scripts/bootstrap.sh && .venv/bin/python benchmarks/pipeline_throughput.py
