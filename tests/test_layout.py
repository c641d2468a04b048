"""The house: toyneg's modules import one another in one direction only (no import circle).

Reads the source, imports nothing: every `from .x import ...`, `from . import x`, `import
toyneg.x` and `from toyneg.x import ...` in toyneg/*.py, at the top or inside a function, is an
edge of the module graph, and the graph must have no cycle.  The package's `__init__` is left
out: it is the front door that re-exports the API from above every module, and the modules
that read `__version__` from it get a string it sets before it imports anything.

`python tests/test_layout.py` prints every module's imports and the result.
"""

import ast
import os
import sys

PKG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "toyneg")


def modules(pkg: str = PKG) -> dict:
    """Module name -> its source, for every toyneg/*.py."""
    out = {}
    for f in sorted(os.listdir(pkg)):
        if f.endswith(".py"):
            with open(os.path.join(pkg, f)) as fh:
                out[f[:-3]] = fh.read()
    return out


def imports(source: str, known: set) -> set:
    """The toyneg modules that a module's source imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):  # import toyneg.x
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("toyneg.")}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 1:  # from .x import y / from . import x
                base = node.module
            elif node.level == 0 and node.module and node.module.split(".")[0] == "toyneg":
                base = node.module.partition(".")[2]  # from toyneg.x import y / from toyneg import x
            else:
                continue
            if base:
                found.add(base.split(".")[0])
            else:  # `from . import x`: x is a module when a file holds it, else a name of __init__
                found |= {a.name for a in node.names if a.name in known}
    return found & known


def graph(pkg: str = PKG) -> dict:
    src = modules(pkg)
    known = set(src) - {"__init__"}
    return {m: sorted(imports(s, known) - {m}) for m, s in src.items() if m != "__init__"}


def cycles(g: dict) -> list:
    """Every strongly connected component with more than one module (or a module importing
    itself), each as a sorted list: empty when the graph is acyclic (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in g.get(v, ()):
                out.append(sorted(comp))

    sys.setrecursionlimit(max(1000, 10 * len(g)))
    for v in sorted(g):
        if v not in index:
            visit(v)
    return sorted(out)


def test_toyneg_has_no_import_circle():
    g = graph()
    assert {"config", "world", "vocab", "demo", "speak", "train"} <= set(g)  # it reads the package
    assert "vocab" in g["config"] and "vocab" in g["world"]
    assert cycles(g) == [], f"import circle(s) in toyneg: {cycles(g)}"


def test_the_check_finds_a_circle_made_inside_a_function(tmp_path):
    for name, text in {"a.py": "from .b import x\n",
                       "b.py": "def f():\n    from . import c\n",
                       "c.py": "import toyneg.a\n", "d.py": "from .a import y\n"}.items():
        (tmp_path / name).write_text(text)
    assert cycles(graph(str(tmp_path))) == [["a", "b", "c"]]


if __name__ == "__main__":
    g = graph()
    for m, deps in g.items():
        print(f"{m:12s} -> {', '.join(deps) or '-'}")
    found = cycles(g)
    print(f"\n{len(g)} modules, {sum(map(len, g.values()))} imports: "
          + ("no import circle" if not found else f"import circles: {found}"))
    sys.exit(1 if found else 0)
