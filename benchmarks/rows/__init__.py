"""The benchmark rows: one module per group, listed here (a closed registry, like the segment kinds).

To add a group (encode, mine, search, train, ...):

1. write `benchmarks/rows/<group>.py` with
     GROUP = "<group>"
     def run(options) -> list[benchmarks.harness.Row]
   `options` has `queries` (the scale asked for), `scratch` (a temporary folder
   for inputs both sides read) and `quick` (reduced sizes, a smoke run). Measure
   each side with `benchmarks.harness.measure(module, function, **kwargs)`: it runs
   the function in a fresh process and returns its seconds and peak memory. Run the
   sides with `interleave(MIN_ROUNDS, {...})` and build each row with
   `Row.from_rounds` (round i of ours against round i of the baseline); a
   projection is a `Row(..., kind=PROJECTED)`. Time only the work being compared,
   on the same input files, with the same settings.
2. add it to ROWS below. `python -m benchmarks --only <group>` then runs it and
   merges its rows into benchmarks/results/<machine>.json, keeping other groups.
"""

ROWS = {
    "samplers": "benchmarks.rows.samplers",
    "encode": "benchmarks.rows.encode",
    "search": "benchmarks.rows.search",
    "mine": "benchmarks.rows.mine",
    "train": "benchmarks.rows.train",
    "scale": "benchmarks.rows.scale",
    "gpu": "benchmarks.rows.gpu",
}
# Groups that run only when asked for by name (`--only`): gpu needs a CUDA device,
# which `make bench` does not assume (`make bench-gpu` runs it on a GPU node).
ON_REQUEST = frozenset({"gpu"})
