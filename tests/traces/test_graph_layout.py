"""The layered layout keeps its promises on generated graphs: DAGs, cycles, wide fan-outs, 500 nodes."""

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from traces.graphs.layout import (
    LayeredGraph,
    assign_layers,
    bilayer_crossings,
    find_back_edges,
    isotonic,
    layout,
)

TOLERANCE = 0.01


@st.composite
def dags(draw, max_nodes=40):
    n = draw(st.integers(1, max_nodes))
    keys = [f"n{i}" for i in range(n)]
    pairs = [(i, j) for i in range(n) for j in range(i + 1, min(n, i + 8))]
    chosen = draw(st.lists(st.sampled_from(pairs), max_size=3 * n, unique=True)) if pairs else []
    # Shuffle the node order so the layout cannot rely on being handed a topological order.
    order = draw(st.permutations(keys))
    return order, [(keys[i], keys[j]) for i, j in chosen]


@st.composite
def graphs_with_cycles(draw, max_nodes=30):
    n = draw(st.integers(1, max_nodes))
    keys = [f"n{i}" for i in range(n)]
    edges = draw(
        st.lists(st.tuples(st.sampled_from(keys), st.sampled_from(keys)), max_size=3 * n, unique=True)
    )
    return keys, edges


@st.composite
def fan_outs(draw):
    """Parallel or foreach: a step fans out to many branches that join again, maybe several times."""
    keys, edges = ["start"], []
    previous = "start"
    for stage in range(draw(st.integers(1, 3))):
        width = draw(st.integers(2, 60))
        join = f"join{stage}"
        branches = [f"s{stage}b{i}" for i in range(width)]
        keys += branches + [join]
        edges += [(previous, b) for b in branches] + [(b, join) for b in branches]
        previous = join
    return keys, edges


def on_boundary(point, box):
    x, y = point
    inside_x = box.x - TOLERANCE <= x <= box.x + box.width + TOLERANCE
    inside_y = box.y - TOLERANCE <= y <= box.y + box.height + TOLERANCE
    on_side = any(
        abs(a - b) <= TOLERANCE
        for a, b in ((x, box.x), (x, box.x + box.width), (y, box.y), (y, box.y + box.height))
    )
    return inside_x and inside_y and on_side


def overlaps(a, b):
    return not (
        a.x + a.width <= b.x + TOLERANCE
        or b.x + b.width <= a.x + TOLERANCE
        or a.y + a.height <= b.y + TOLERANCE
        or b.y + b.height <= a.y + TOLERANCE
    )


def assert_sound(keys, edges, placed):
    """The properties every layout must have, whatever the graph."""
    boxes = placed.boxes
    assert set(boxes) == set(keys)
    by_layer = {}
    for box in boxes.values():
        by_layer.setdefault(box.layer, []).append(box)
        assert box.x >= 0 and box.y >= 0
        assert box.x + box.width <= placed.width + TOLERANCE
        assert box.y + box.height <= placed.height + TOLERANCE
    # Layers never share a height band, so only nodes of one layer could overlap.
    for layer in by_layer.values():
        layer.sort(key=lambda b: b.x)
        for left, right in itertools.pairwise(layer):
            assert not overlaps(left, right), (left, right)
    drawn = {(r.source, r.target) for r in placed.routes}
    assert drawn == set(edges)
    for route in placed.routes:
        assert on_boundary(route.points[0], boxes[route.source]), route
        assert on_boundary(route.points[-1], boxes[route.target]), route


def naive_crossings(keys, edges, placed):
    """Crossings when each layer keeps the order the nodes were given in: what the sweeps improve on."""
    position = {k: i for i, k in enumerate(keys)}
    graph = rebuild(keys, edges)
    naive = [sorted(layer, key=lambda n: position.get(n, len(keys))) for layer in placed.layers]
    return graph.count_crossings(naive)


def rebuild(keys, edges):
    pairs = [(s, t) for s, t in dict.fromkeys(edges) if s != t]
    back = find_back_edges(keys, pairs)
    segments = [((t, s) if (s, t) in back else (s, t), (s, t)) for s, t in pairs]
    rank = assign_layers(keys, [seg for seg, _ in segments])
    return LayeredGraph(keys, rank, segments, dict.fromkeys(keys, 184))


@settings(max_examples=150, deadline=None)
@given(dags())
def test_in_a_dag_every_edge_points_forward_and_nothing_overlaps(graph):
    keys, edges = graph
    placed = layout(keys, edges)
    assert_sound(keys, edges, placed)
    for route in placed.routes:
        assert not route.back
        assert placed.boxes[route.target].layer > placed.boxes[route.source].layer
        assert route.points[-1][1] > route.points[0][1]


@settings(max_examples=150, deadline=None)
@given(graphs_with_cycles())
def test_cycles_become_back_edges_drawn_between_their_own_nodes(graph):
    keys, edges = graph
    placed = layout(keys, edges)
    assert_sound(keys, edges, placed)
    for route in placed.routes:
        source, target = placed.boxes[route.source], placed.boxes[route.target]
        if route.self_loop:
            assert route.source == route.target
        elif route.back:
            assert target.layer < source.layer
        else:
            assert target.layer > source.layer
    # Forward edges alone never form a cycle.
    forward = [(r.source, r.target) for r in placed.routes if not r.back]
    assert not find_back_edges(keys, forward)


@settings(max_examples=60, deadline=None)
@given(fan_outs())
def test_a_wide_fan_out_is_laid_out_without_crossings(graph):
    keys, edges = graph
    placed = layout(keys, edges)
    assert_sound(keys, edges, placed)
    assert placed.crossings == 0
    # The branches of one fan-out share a layer, between the step that forks and the one that joins.
    assert placed.boxes["start"].layer == 0
    assert {placed.boxes[k].layer for k in keys if k.startswith("s0b")} == {1}


@settings(max_examples=120, deadline=None)
@given(dags(max_nodes=30))
def test_crossing_reduction_never_does_worse_than_the_given_order(graph):
    keys, edges = graph
    placed = layout(keys, edges)
    assert placed.crossings <= naive_crossings(keys, edges, placed)


def test_crossing_reduction_untangles_a_shuffled_ladder():
    """Two chains side by side with rungs: drawable with no crossing, however the input is ordered."""
    rng = random.Random(7)
    left = [f"l{i}" for i in range(12)]
    right = [f"r{i}" for i in range(12)]
    edges = list(itertools.pairwise(left)) + list(itertools.pairwise(right))
    edges += [(left[i], right[i + 1]) for i in range(0, 11, 2)]
    keys = left + right
    rng.shuffle(keys)
    placed = layout(keys, edges)
    assert placed.crossings == 0
    assert naive_crossings(keys, edges, placed) >= placed.crossings


@settings(max_examples=3, deadline=None)
@given(st.integers(0, 2**32))
def test_500_nodes_are_laid_out_soundly_with_few_crossings(seed):
    rng = random.Random(seed)
    keys = [f"n{i}" for i in range(500)]
    edges = set()
    for i in range(1, 500):
        edges.add((keys[rng.randrange(max(0, i - 12), i)], keys[i]))  # every node hangs from a recent one
    while len(edges) < 700:
        i = rng.randrange(0, 499)
        edges.add((keys[i], keys[rng.randrange(i + 1, min(500, i + 15))]))
    edges.update((keys[i], keys[max(0, i - rng.randrange(2, 20))]) for i in rng.sample(range(30, 500), 10))
    edges = sorted(edges)
    placed = layout(keys, edges)
    assert_sound(keys, edges, placed)
    assert placed.crossings <= naive_crossings(keys, edges, placed)


@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=40), st.data())
def test_isotonic_fit_is_ordered_and_weighted_mean_preserving(values, data):
    weights = data.draw(st.lists(st.floats(0.1, 10), min_size=len(values), max_size=len(values)))
    fitted = isotonic(values, weights)
    assert all(a <= b + 1e-6 for a, b in itertools.pairwise(fitted))
    assert abs(
        sum(v * w for v, w in zip(values, weights, strict=True))
        - sum(f * w for f, w in zip(fitted, weights, strict=True))
    ) < 1e-3 * (1 + sum(abs(v) * w for v, w in zip(values, weights, strict=True)))


@given(st.integers(1, 8), st.integers(1, 8), st.data())
def test_bilayer_crossings_match_a_brute_force_count(upper_size, lower_size, data):
    upper = [f"u{i}" for i in range(upper_size)]
    lower = [f"l{i}" for i in range(lower_size)]
    pairs = data.draw(
        st.lists(st.tuples(st.sampled_from(upper), st.sampled_from(lower)), unique=True, max_size=20)
    )
    down = {u: [t for s, t in pairs if s == u] for u in upper}
    pos_u = {u: i for i, u in enumerate(upper)}
    pos_l = {n: i for i, n in enumerate(lower)}
    brute = sum(
        1
        for (a, b), (c, d) in itertools.combinations(pairs, 2)
        if (pos_u[a] - pos_u[c]) * (pos_l[b] - pos_l[d]) < 0
    )
    assert bilayer_crossings(upper, lower, down) == brute


def test_nodes_of_different_sizes_sit_in_the_middle_of_their_layer():
    placed = layout(["a", "b", "c"], [("a", "b"), ("a", "c")], sizes={"b": (230, 86)})
    b, c = placed.boxes["b"], placed.boxes["c"]
    assert (b.width, b.height) == (230, 86)
    assert b.layer == c.layer
    assert abs((b.y + b.height / 2) - (c.y + c.height / 2)) < TOLERANCE
    assert_sound(["a", "b", "c"], [("a", "b"), ("a", "c")], placed)


def test_an_empty_graph_has_an_empty_layout():
    placed = layout([], [])
    assert placed.boxes == {} and placed.routes == []
    assert placed.width > 0 and placed.height > 0
