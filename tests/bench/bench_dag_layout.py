"""How long the DAG tab takes to infer, lay out and draw big graphs. A benchmark, not a test.

    .venv/bin/python -m tests.bench.bench_dag_layout

Prints the median of several rounds for each graph: nodes, edges, crossings left, and the time of
inference (runs only), layout and SVG.
"""

import random
import statistics
import time

from traces.graphs import inference, svg
from traces.graphs.layout import NODE_HEIGHT, NODE_WIDTH, layout

ROUNDS = 5


def expanded_run(tasks):
    """An agent run of `tasks` steps: plan, call a tool, sometimes a foreach or a parallel fan-out."""
    rng = random.Random(1)
    steps, ids = [], iter(range(1, 10**9))

    def add(name, type_, parent=None, status="ok"):
        step = inference.Step(next(ids), f"s{len(steps)}", parent, name, type_, status, len(steps), 120, 50)
        steps.append(step)
        return step.id

    agent = add("agent", "agent")
    while len(steps) < tasks:
        kind = rng.random()
        if kind < 0.1:
            loop = add("for_each_doc", "foreach", agent)
            for _ in range(rng.randint(3, 12)):
                add("read_doc", "tool", loop)
        elif kind < 0.18:
            fork = add("fan_out", "parallel", agent)
            for name in ("search", "lookup", "fetch"):
                add(name, "tool", fork)
        else:
            add("plan", "llm", agent)
            add(
                rng.choice(["search", "lookup", "fetch", "write"]),
                "tool",
                agent,
                rng.choice(["ok"] * 9 + ["failed"]),
            )
    return steps[:tasks]


def random_graph(nodes, edges, cycles):
    rng = random.Random(2)
    keys = [f"n{i}" for i in range(nodes)]
    pairs = {(keys[rng.randrange(max(0, i - 10), i)], keys[i]) for i in range(1, nodes)}
    while len(pairs) < edges:
        i = rng.randrange(nodes - 1)
        pairs.add((keys[i], keys[rng.randrange(i + 1, min(nodes, i + 20))]))
    pairs.update((keys[i], keys[i - rng.randrange(2, 30)]) for i in rng.sample(range(40, nodes), cycles))
    graph = inference.Graph()
    for key in keys:
        graph.nodes[key] = inference.Node(key, key, "function", "ok", visits=1, duration_ms=10)
    graph.edges = [inference.Edge(s, t) for s, t in sorted(pairs)]
    return graph


def measure(name, build):
    timings = {"infer": [], "layout": [], "svg": []}
    for _ in range(ROUNDS):
        started = time.perf_counter()
        graph = build()
        inferred = time.perf_counter()
        placed = layout(list(graph.nodes), graph.pairs, sizes=svg.node_sizes(graph, NODE_WIDTH, NODE_HEIGHT))
        laid_out = time.perf_counter()
        svg.render(graph, placed)
        drawn = time.perf_counter()
        timings["infer"].append(inferred - started)
        timings["layout"].append(laid_out - inferred)
        timings["svg"].append(drawn - laid_out)
    ms = {k: statistics.median(v) * 1000 for k, v in timings.items()}
    print(
        f"{name:<44} {len(graph.nodes):>6} {len(graph.edges):>6} {placed.crossings:>9} "
        f"{ms['infer']:>8.0f} {ms['layout']:>8.0f} {ms['svg']:>6.0f} {sum(ms.values()):>7.0f}"
    )


def main():
    print(f"median of {ROUNDS} rounds, milliseconds")
    columns = (
        ("nodes", 6),
        ("edges", 6),
        ("crossings", 9),
        ("infer", 8),
        ("layout", 8),
        ("svg", 6),
        ("total", 7),
    )
    print(f"{'graph':<44} " + " ".join(f"{name:>{width}}" for name, width in columns))
    run_500 = expanded_run(500)
    run_10k = expanded_run(10_000)
    measure("run of 500 tasks, expanded", lambda: inference.expanded(run_500))
    measure("run of 500 tasks, aggregated", lambda: inference.aggregated(run_500))
    measure("run of 10,000 tasks, aggregated", lambda: inference.aggregated(run_10k))
    measure("random DAG, 500 nodes, 800 edges", lambda: random_graph(500, 800, 0))
    measure("random graph, 500 nodes, 800 edges, 25 loops", lambda: random_graph(500, 800, 25))
    measure("random DAG, 500 nodes, 1,500 edges", lambda: random_graph(500, 1500, 0))


if __name__ == "__main__":
    main()
