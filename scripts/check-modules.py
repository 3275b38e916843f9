#!/usr/bin/env python3
"""Checks the module rules of docs/architecture.md ("Layers") against the
package and the sources:

1. every module a target imports is declared in Package.swift for it, and
   every module declared for it is imported by one of its files;
2. each library and executable depends only on the project modules its layer
   allows (LAYERS below): the orchestrator never on the nodes, the nodes never
   on the orchestrator, ClusterCore and ClusterProcess on nothing of ours.

    scripts/check-modules.py              # exit 1 and one line per violation
    scripts/check-modules.py --self-test  # shows that a forbidden import is caught

Run by scripts/test.sh before the tests.
"""
import json
import os
import re
import subprocess
import sys

# Modules of the toolchain and the system: never declared.
SYSTEM = {"Foundation", "FoundationEssentials", "FoundationNetworking", "Glibc", "Musl", "Darwin", "Dispatch",
          "Synchronization", "Testing", "XCTest", "_Concurrency", "Observation"}

# The project modules each library or executable may depend on. Test targets
# may use anything (they test across the layers).
LAYERS = {
    "CZeroMQ": set(),
    "CSodium": set(),
    "CSystemShims": set(),
    "ZeroMQ": {"CZeroMQ", "CSodium", "CSystemShims"},
    "ClusterProcess": {"CSystemShims"},
    "ClusterCore": set(),
    "ClusterNode": {"ZeroMQ", "ClusterCore", "ClusterProcess"},
    "ClusterOrchestrator": {"ZeroMQ", "ClusterCore", "ClusterProcess", "CSystemShims"},
    "cluster-node": {"ClusterNode", "ClusterCore", "ClusterProcess"},
    "orchestrator": {"ClusterOrchestrator", "ClusterCore", "ClusterProcess"},
    # Helpers shared by the test targets.
    "ClusterTestSupport": set(),
}

IMPORT = re.compile(
    r"^\s*(?:@[\w()]+\s+)*(?:public\s+|internal\s+|package\s+|private\s+|fileprivate\s+)?import\s+"
    r"(?:(?:struct|class|enum|protocol|typealias|func|var|let)\s+)?([A-Za-z_][A-Za-z0-9_]*)")


def module_name(target):
    """A target's module name: executables' dashes become underscores."""
    return target.replace("-", "_")


def load_package(root):
    out = subprocess.run(["swift", "package", "dump-package"], cwd=root, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def target_directory(root, target):
    if target.get("path"):
        return os.path.join(root, target["path"])
    base = "Tests" if target["type"] == "test" else "Sources"
    return os.path.join(root, base, target["name"])


def declared_modules(target):
    """The modules a target declares: its target dependencies and its products (a product's module is its name)."""
    names = set()
    for dep in target["dependencies"]:
        kind, value = next(iter(dep.items()))
        names.add(value[0])
    return names


# Lines that may come before and between a file's imports.
PREAMBLE = re.compile(r"^\s*(//.*|#if .*|#elseif .*|#else|#endif|)$")


def imports_of(directory):
    """{module: first file importing it} over the Swift files under `directory`.

    Imports come first in a Swift file; the scan of a file stops at its first
    declaration, so text inside string literals further down is never read."""
    found = {}
    for dirpath, _, files in os.walk(directory):
        for f in sorted(files):
            if not f.endswith(".swift"):
                continue
            path = os.path.join(dirpath, f)
            with open(path, encoding="utf-8") as h:
                for line in h:
                    m = IMPORT.match(line)
                    if m:
                        found.setdefault(m.group(1), path)
                    elif not PREAMBLE.match(line):
                        break
    return found


def check(package, imports_by_target, root):
    """Returns the violations, one string each."""
    problems = []
    targets = {t["name"]: t for t in package["targets"]}
    by_module = {module_name(n): n for n in targets}
    for name, t in sorted(targets.items()):
        if t["type"] == "system-target":
            continue
        declared = declared_modules(t)
        declared_as_modules = {module_name(d) for d in declared}
        imported = imports_by_target.get(name, {})
        for module, path in sorted(imported.items()):
            if module in SYSTEM or module == module_name(name):
                continue
            if module not in declared_as_modules:
                problems.append(f"{os.path.relpath(path, root)}: imports {module}, which Package.swift does not declare for {name}")
        for d in sorted(declared):
            if module_name(d) not in imported:
                problems.append(f"Package.swift: {name} declares {d} and none of its files imports it")
        if t["type"] == "test":
            continue
        allowed = LAYERS.get(name)
        if allowed is None:
            problems.append(f"Package.swift: {name} has no layer in scripts/check-modules.py (add it, and to docs/architecture.md)")
            continue
        ours = {by_module[module_name(d)] for d in declared if module_name(d) in by_module}
        ours |= {by_module[m] for m in imported if m in by_module and m != module_name(name)}
        for dep in sorted(ours - allowed):
            problems.append(f"{name} depends on {dep}, which its layer does not allow "
                            f"(allowed: {', '.join(sorted(allowed)) or 'no project module'})")
    return problems


def main():
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    package = load_package(root)
    imports = {t["name"]: imports_of(target_directory(root, t)) for t in package["targets"] if t["type"] != "system-target"}
    if "--self-test" in sys.argv[1:]:
        imports["ClusterOrchestrator"] = dict(imports["ClusterOrchestrator"], ClusterNode="Sources/ClusterOrchestrator/Injected.swift")
        problems = check(package, imports, root)
        caught = [p for p in problems if "ClusterNode" in p and "ClusterOrchestrator" in p]
        if len(caught) < 2:
            print("check-modules self-test: an import of ClusterNode by ClusterOrchestrator was not reported", file=sys.stderr)
            return 1
        print(f"check-modules self-test: an injected import of ClusterNode by ClusterOrchestrator is reported ({len(caught)} lines)")
        return 0
    problems = check(package, imports, root)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"check-modules: {len(problems)} violation(s) of the module rules (docs/architecture.md, \"Layers\")", file=sys.stderr)
        return 1
    print(f"check-modules: {len(imports)} targets follow the module rules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
