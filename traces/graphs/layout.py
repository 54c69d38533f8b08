"""Layered (Sugiyama-style) layout of a directed graph, top to bottom, in plain Python.

The classic four steps:

1. cycle removal: a depth-first search in the given node order reverses every edge that closes a
   cycle, so loops become back edges drawn upwards;
2. layering: longest path from the sources, then sources pulled down next to their first successor;
3. crossing reduction: edges longer than one layer get a chain of dummy nodes, then barycentric
   sweeps down and up, keeping the order with the fewest crossings;
4. coordinates: every layer is placed where its neighbours pull it, with nodes kept apart by a
   weighted isotonic regression (pool adjacent violators), which guarantees no overlap.

Edges are routed through their dummy nodes. Forward edges leave a node from the middle of its
bottom side and enter the middle of the next node's top side; back edges use ports to the right
of the middle, so a loop between two neighbours does not draw over the edge that goes down.
"""

import heapq
from dataclasses import dataclass, field

NODE_WIDTH = 184
NODE_HEIGHT = 60
NODE_GAP = 28  # between two nodes of a layer
LAYER_GAP = 48  # between two layers
DUMMY_WIDTH = 10  # a long edge passing through a layer
DUMMY_GAP = 10
MARGIN = 24
BACK_PORT = 0.3  # back-edge ports sit this fraction of the width right of the middle
SELF_LOOP_REACH = 22
ORDER_SWEEPS = 12
COORDINATE_PASSES = 6


@dataclass
class Box:
    """A placed node: (x, y) is its top-left corner."""

    key: str
    x: float
    y: float
    width: float
    height: float
    layer: int

    @property
    def center_x(self):
        return self.x + self.width / 2


@dataclass
class Route:
    """An edge as a polyline from a point on its source to a point on its target."""

    source: str
    target: str
    points: list[tuple[float, float]]
    back: bool = False
    self_loop: bool = False


@dataclass
class Layout:
    width: float
    height: float
    boxes: dict[str, Box]
    routes: list[Route]
    layers: list[list[str]] = field(default_factory=list)  # the final order, dummies included
    crossings: int = 0


def layout(keys, edges, *, sizes=None, width=NODE_WIDTH, height=NODE_HEIGHT):
    """Place `keys` (node ids, in a meaningful order such as execution order) and route `edges`.

    `edges` is an iterable of (source, target) pairs; unknown endpoints and duplicates are ignored.
    `sizes` maps a key to its (width, height) when it differs from the default; a layer is as tall
    as its tallest node, and nodes sit in the middle of their layer.
    """
    sizes = sizes or {}
    keys = list(dict.fromkeys(keys))
    known = set(keys)
    pairs = list(dict.fromkeys((s, t) for s, t in edges if s in known and t in known))
    loops = [(s, t) for s, t in pairs if s == t]
    pairs = [(s, t) for s, t in pairs if s != t]

    reversed_pairs = find_back_edges(keys, pairs)
    # Each edge pointing down, named after the edge it draws.
    segments = [((t, s) if (s, t) in reversed_pairs else (s, t), (s, t)) for s, t in pairs]
    rank = assign_layers(keys, [segment for segment, _ in segments])
    widths = {k: sizes.get(k, (width, height))[0] for k in keys}
    heights = {k: sizes.get(k, (width, height))[1] for k in keys}
    graph = LayeredGraph(keys, rank, segments, widths)
    order = graph.reduce_crossings()
    x = graph.assign_coordinates(order)
    graph.straighten(order, x)

    depth = max(rank.values(), default=-1) + 1
    layer_height = [0] * depth
    for key in keys:
        layer_height[rank[key]] = max(layer_height[rank[key]], heights[key])
    layer_top = [MARGIN]
    for tall in layer_height:
        layer_top.append(layer_top[-1] + tall + LAYER_GAP)
    boxes = {}
    for key in keys:
        top = layer_top[rank[key]] + (layer_height[rank[key]] - heights[key]) / 2
        boxes[key] = Box(key, x[key] - widths[key] / 2, top, widths[key], heights[key], layer=rank[key])

    routes = []
    for s, t in pairs:
        back = (s, t) in reversed_pairs
        upper, lower = (t, s) if back else (s, t)
        top, bottom = boxes[upper], boxes[lower]
        points = [(top.center_x + top.width * BACK_PORT * back, top.y + top.height)]
        for dummy in graph.chains.get((s, t), ()):
            layer = graph.rank[dummy]
            points += [(x[dummy], layer_top[layer]), (x[dummy], layer_top[layer] + layer_height[layer])]
        points.append((bottom.center_x + bottom.width * BACK_PORT * back, bottom.y))
        if back:
            points.reverse()
        routes.append(Route(s, t, points, back=back))
    for s, _ in loops:
        box = boxes[s]
        right = box.x + box.width
        top_y, bottom_y = box.y + box.height * 0.3, box.y + box.height * 0.7
        reach = right + SELF_LOOP_REACH
        points = [(right, bottom_y), (reach, bottom_y + 8), (reach, top_y - 8), (right, top_y)]
        routes.append(Route(s, s, points, back=True, self_loop=True))

    right_edge = max((b.x + b.width for b in boxes.values()), default=0)
    dummy_right = max((x[d] + DUMMY_WIDTH for d in graph.dummies), default=0)
    extra = SELF_LOOP_REACH if loops else 0
    total_width = max(right_edge + extra, dummy_right) + MARGIN
    total_height = layer_top[-1] - LAYER_GAP + MARGIN if depth else MARGIN * 2
    return Layout(
        width=round(total_width, 1),
        height=round(total_height, 1),
        boxes=boxes,
        routes=routes,
        layers=order,
        crossings=graph.count_crossings(order),
    )


def find_back_edges(keys, pairs):
    """The edges that close a cycle, found by an iterative depth-first search in `keys` order.

    Starting from the first node (the first to run) makes the edges that go back to an earlier
    step the ones reversed, which is how a loop reads.
    """
    position = {k: i for i, k in enumerate(keys)}
    successors = {k: [] for k in keys}
    for s, t in pairs:
        successors[s].append(t)
    for targets in successors.values():
        targets.sort(key=position.__getitem__)
    state = dict.fromkeys(keys, 0)  # 0 unseen, 1 on the stack, 2 done
    back = set()
    for root in keys:
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(successors[root]))]
        while stack:
            node, targets = stack[-1]
            for target in targets:
                if state[target] == 1:
                    back.add((node, target))
                elif state[target] == 0:
                    state[target] = 1
                    stack.append((target, iter(successors[target])))
                    break
            else:
                state[node] = 2
                stack.pop()
    return back


def topological_order(keys, pairs):
    """Kahn's algorithm, taking ready nodes in `keys` order so that the result is stable."""
    position = {k: i for i, k in enumerate(keys)}
    successors = {k: [] for k in keys}
    indegree = dict.fromkeys(keys, 0)
    for s, t in pairs:
        successors[s].append(t)
        indegree[t] += 1
    ready = [position[k] for k in keys if indegree[k] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        node = keys[heapq.heappop(ready)]
        order.append(node)
        for target in successors[node]:
            indegree[target] -= 1
            if indegree[target] == 0:
                heapq.heappush(ready, position[target])
    return order


def assign_layers(keys, pairs):
    """Longest path from the sources; a source then moves down to just above its nearest successor."""
    order = topological_order(keys, pairs)
    predecessors = {k: [] for k in keys}
    successors = {k: [] for k in keys}
    for s, t in pairs:
        predecessors[t].append(s)
        successors[s].append(t)
    rank = {}
    for node in order:
        rank[node] = max((rank[p] + 1 for p in predecessors[node]), default=0)
    for node in reversed(order):
        if not predecessors[node] and successors[node]:
            rank[node] = min(rank[t] for t in successors[node]) - 1
    return rank


class LayeredGraph:
    """The acyclic graph with a dummy node wherever an edge crosses a layer."""

    def __init__(self, keys, rank, segments, widths):
        self.rank = dict(rank)
        self.width = dict(widths)
        self.dummies = set()
        self.chains = {}  # the drawn edge -> the dummies it passes through, top to bottom
        self.down = {k: [] for k in keys}  # neighbours in the next layer
        self.up = {k: [] for k in keys}  # neighbours in the previous layer
        for (s, t), name in segments:
            previous = s
            chain = []
            for layer in range(rank[s] + 1, rank[t]):
                dummy = f"\x00{name[0]}\x00{name[1]}\x00{layer}"
                self.rank[dummy] = layer
                self.width[dummy] = DUMMY_WIDTH
                self.dummies.add(dummy)
                self.down[dummy], self.up[dummy] = [], []
                self.link(previous, dummy)
                chain.append(dummy)
                previous = dummy
            self.link(previous, t)
            if chain:
                self.chains[name] = chain
        self.keys = keys

    def link(self, upper, lower):
        self.down[upper].append(lower)
        self.up[lower].append(upper)

    def initial_order(self):
        """Layers filled in depth-first order from the sources: children start near their parent."""
        depth = max(self.rank.values(), default=-1) + 1
        layers = [[] for _ in range(depth)]
        seen = set()
        for root in self.keys:
            if root in seen or self.up[root]:
                continue
            stack = [root]
            while stack:
                node = stack.pop()
                if node in seen:
                    continue
                seen.add(node)
                layers[self.rank[node]].append(node)
                stack.extend(reversed(self.down[node]))
        for node in self.rank:  # nodes only reachable from a cycle's reversed edge
            if node not in seen:
                layers[self.rank[node]].append(node)
        return layers

    def count_crossings(self, layers):
        total = 0
        for upper, lower in zip(layers, layers[1:], strict=False):
            total += bilayer_crossings(upper, lower, self.down)
        return total

    def reduce_crossings(self):
        layers = self.initial_order()
        best, best_crossings = [list(layer) for layer in layers], self.count_crossings(layers)
        stale = 0
        for sweep in range(ORDER_SWEEPS):
            if best_crossings == 0:
                break
            if sweep % 2 == 0:
                for i in range(1, len(layers)):
                    layers[i] = sort_by_barycenter(layers[i], layers[i - 1], self.up)
            else:
                for i in range(len(layers) - 2, -1, -1):
                    layers[i] = sort_by_barycenter(layers[i], layers[i + 1], self.down)
            crossings = self.count_crossings(layers)
            if crossings < best_crossings:
                best, best_crossings, stale = [list(layer) for layer in layers], crossings, 0
            else:
                stale += 1
                if stale >= 4:
                    break
        # The sweeps can settle in a local minimum that the order the nodes were given in beats (the
        # given order of a layer, its long-edge dummies kept where the sweeps put them): never draw
        # worse than that.
        position = {key: index for index, key in enumerate(self.keys)}
        given = [sorted(layer, key=lambda node: position.get(node, len(position))) for layer in best]
        return given if self.count_crossings(given) < best_crossings else best

    def assign_coordinates(self, layers):
        """The x of every node's centre: each layer follows its neighbours, never overlapping."""
        x = {}
        widest = max((self.span(layer) for layer in layers), default=0)
        for layer in layers:
            left = (widest - self.span(layer)) / 2
            for node, offset in zip(layer, self.offsets(layer), strict=True):
                x[node] = left + offset
        for step in range(COORDINATE_PASSES):
            downwards = step % 2 == 0
            sequence = range(1, len(layers)) if downwards else range(len(layers) - 2, -1, -1)
            # The last pass listens to both sides so a node sits between its parents and children.
            both = step == COORDINATE_PASSES - 1
            for i in sequence:
                layer = layers[i]
                desired, weights = [], []
                for node in layer:
                    pulls = (self.up[node] if downwards else self.down[node]) + (
                        (self.down[node] if downwards else self.up[node]) if both else []
                    )
                    if pulls:
                        desired.append(sum(x[n] for n in pulls) / len(pulls))
                    else:
                        desired.append(x[node])
                    # Dummies weigh more, so long edges run straight.
                    weights.append(4.0 if node in self.dummies else 1.0)
                for node, value in zip(layer, self.place(layer, desired, weights), strict=True):
                    x[node] = value
        left = min((x[n] - self.width[n] / 2 for n in x), default=0)
        return {n: value - left + MARGIN for n, value in x.items()}

    def straighten(self, layers, x):
        """Run each long edge straight down where its layers leave room: under its source, over its
        target, or at its middle. Nodes keep their order and their gaps."""
        layer_of = {node: (i, at) for i, layer in enumerate(layers) for at, node in enumerate(layer)}

        def fits(node, value):
            i, at = layer_of[node]
            layer = layers[i]
            left = layer[at - 1] if at else None
            right = layer[at + 1] if at + 1 < len(layer) else None
            return (left is None or x[left] + self.gap(left, node) <= value + 1e-6) and (
                right is None or value + self.gap(node, right) <= x[right] + 1e-6
            )

        for chain in self.chains.values():
            source, target = self.up[chain[0]][0], self.down[chain[-1]][0]
            middle = sorted(x[d] for d in chain)[len(chain) // 2]
            for value in (x[source], x[target], middle):
                if all(fits(d, value) for d in chain):
                    for d in chain:
                        x[d] = value
                    break

    def gap(self, a, b):
        if a in self.dummies or b in self.dummies:
            return (self.width[a] + self.width[b]) / 2 + DUMMY_GAP
        return (self.width[a] + self.width[b]) / 2 + NODE_GAP

    def offsets(self, layer):
        """Each node's centre when the layer is packed tight from 0."""
        result, at = [], self.width[layer[0]] / 2 if layer else 0
        for i, node in enumerate(layer):
            if i:
                at += self.gap(layer[i - 1], node)
            result.append(at)
        return result

    def span(self, layer):
        if not layer:
            return 0
        return self.offsets(layer)[-1] + self.width[layer[-1]] / 2

    def place(self, layer, desired, weights):
        """Positions closest to `desired` (weighted least squares) that keep the order and the gaps."""
        offsets = self.offsets(layer)
        shifted = [d - o for d, o in zip(desired, offsets, strict=True)]
        fitted = isotonic(shifted, weights)
        return [f + o for f, o in zip(fitted, offsets, strict=True)]


def isotonic(values, weights):
    """Weighted non-decreasing least-squares fit: the pool adjacent violators algorithm."""
    blocks = []  # [weighted sum, weight, count]
    for value, weight in zip(values, weights, strict=True):
        blocks.append([value * weight, weight, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, mass, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += mass
            blocks[-1][2] += count
    fitted = []
    for total, mass, count in blocks:
        fitted.extend([total / mass] * count)
    return fitted


def sort_by_barycenter(layer, fixed, neighbours):
    """Order `layer` by the mean position of each node's neighbours in the `fixed` layer.

    A node without neighbours there keeps its place.
    """
    position = {node: i for i, node in enumerate(fixed)}
    keyed = []
    for i, node in enumerate(layer):
        around = [position[n] for n in neighbours[node] if n in position]
        keyed.append((sum(around) / len(around) if around else float(i), i, node))
    keyed.sort()
    return [node for _, _, node in keyed]


def bilayer_crossings(upper, lower, down):
    """Crossings between two adjacent layers, counted as inversions in O(E log V).

    Edges sorted by their upper end; each one crosses every earlier edge whose lower end lies to its
    right. A Fenwick tree over lower positions counts those.
    """
    position = {node: i for i, node in enumerate(lower)}
    ends = []
    for node in upper:
        ends.extend(sorted(position[n] for n in down[node] if n in position))
    size = len(lower)
    tree = [0] * (size + 1)
    crossings = 0
    for seen, end in enumerate(ends):
        # How many earlier edges end at or left of `end`?
        i, at_or_left = end + 1, 0
        while i > 0:
            at_or_left += tree[i]
            i -= i & -i
        crossings += seen - at_or_left
        i = end + 1
        while i <= size:
            tree[i] += 1
            i += i & -i
    return crossings
