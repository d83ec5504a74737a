# Benchmarks and load tests against the local runtime (docs/bench.md, docs/load-testing.md).
#   make bench                                 every section, full size (a few minutes; progress printed)
#   make bench BENCH_ARGS='--quick'            a small run; BENCH_ARGS='--only fanout --sizes 100,1000'
#   make load URL=ws://127.0.0.1:8000/dev LOAD_ARGS='-n 200 -r 4 --rate 20 --duration 60'
.PHONY: bench load

bench: setup test-deps ## fan-out vs the original design, RCU per message, latency, cold starts -> bench/results.json, bench/fanout.png
	$(BIN)/dynamowave bench $(BENCH_ARGS)

load: setup ## load-test an endpoint: make load URL=ws://HOST:PORT/STAGE LOAD_ARGS='-n 100 --rate 10'
	@test -n "$(URL)" || { echo "usage: make load URL=ws://HOST:PORT/STAGE (or wss://DOMAIN/STAGE) [LOAD_ARGS='-n 100 -r 5 --rate 10 --duration 60']" >&2; exit 2; }
	$(BIN)/dynamowave load '$(URL)' $(LOAD_ARGS)
