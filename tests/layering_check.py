#!/usr/bin/python3
"""The layering rule of DESIGN §2, checked on the source tree: a library includes only headers of
itself and of the libraries its row allows; signals/ and feeds/ (not feeds/live) stay pure — no
Boost, sockets or threads, no clock reads. CMake links PRIVATE so the linker refuses upward
calls; this catches the includes that would compile anyway (headers-only uses, inline code).

usage: layering_check.py SOURCE_DIR          check the tree, print each violation, exit 1 on any
       layering_check.py --self-test         check that a planted violation of each kind is found
"""
import os
import re
import sys
import tempfile

# folder -> folders whose headers it may include (besides its own)
ALLOWED = {
    "engine/core": set(),
    "signals": {"engine/core"},
    "feeds": {"engine/core"},
    "feeds/live": {"engine/core", "feeds"},
    "engine/journal": {"engine/core"},
    "engine/publish": {"engine/core"},
    "engine": {"engine/core", "signals", "feeds", "feeds/live", "engine/journal", "engine/publish"},
    "app": {"engine/core", "signals", "feeds", "feeds/live", "engine/journal", "engine/publish",
            "engine"},
}
# Longest first, so engine/core wins over engine.
FOLDERS = sorted(ALLOWED, key=len, reverse=True)
PURE = {"signals", "feeds"}
IMPURE = [
    (re.compile(r'#\s*include\s*<boost/'), "includes Boost"),
    (re.compile(r'#\s*include\s*<(thread|sys/socket\.h|netinet/[^>]*|arpa/[^>]*)>'), "uses sockets or threads"),
    (re.compile(r'\b(realtime_now|monotonic_now|clock_gettime)\s*\('), "reads a clock"),
    (re.compile(r'\b(system_clock|steady_clock|high_resolution_clock)\b'), "reads a clock"),
]
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def folder_of(path):
    for f in FOLDERS:
        if path == f or path.startswith(f + "/"):
            return f
    return None


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def check(root):
    problems = []
    for top in ("engine", "signals", "feeds", "app"):
        for dirpath, _dirs, files in os.walk(os.path.join(root, top)):
            for name in files:
                if not name.endswith((".hpp", ".cpp", ".in")):
                    continue
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, root)
                mine = folder_of(rel)
                if mine is None:
                    continue
                text = open(full, encoding="utf-8", errors="replace").read()
                for inc in INCLUDE.findall(text):
                    theirs = folder_of(inc)
                    if theirs is None or theirs == mine:
                        continue
                    if theirs not in ALLOWED[mine]:
                        problems.append(f"{rel}: includes \"{inc}\" ({theirs} is not below {mine})")
                if mine in PURE:
                    code = strip_comments(text)
                    for rx, what in IMPURE:
                        if rx.search(code):
                            problems.append(f"{rel}: {mine}/ is pure but {what}")
    return problems


def self_test():
    planted = {
        "engine/core/a.hpp": '#include "engine/config.hpp"\n',        # core -> engine
        "signals/b.cpp": '#include "feeds/frame.hpp"\n',              # signals -> feeds
        "feeds/c.cpp": '#include "feeds/live/ws_session.hpp"\n',      # feeds -> feeds/live
        "engine/journal/d.cpp": '#include "feeds/pipeline.hpp"\n',    # journal -> feeds
        "engine/publish/e.cpp": '#include "engine/runtime.hpp"\n',    # publish -> engine
        "feeds/f.cpp": "auto t = core::realtime_now();\n",            # pure reads a clock
        "signals/g.cpp": "#include <boost/asio.hpp>\n",               # pure includes Boost
        "feeds/live/ok.cpp": '#include "feeds/pipeline.hpp"\n#include "engine/core/tick.hpp"\n',
        "engine/ok.cpp": '#include "engine/publish/hub.hpp"\n#include "feeds/live/tls.hpp"\n',
        "feeds/ok.cpp": "// realtime_now() in a comment is fine\n",
    }
    with tempfile.TemporaryDirectory() as root:
        for rel, text in planted.items():
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w") as f:
                f.write(text)
        found = check(root)
    bad = sorted({p.split(":")[0] for p in found})
    want = sorted(r for r in planted if "/ok." not in r)
    if bad != want:
        print(f"self-test failed: found {bad}, expected {want}")
        return 1
    print(f"self-test: all {len(want)} planted violations found, none in the clean files")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--self-test":
        sys.exit(self_test())
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    rc = self_test()
    found = check(sys.argv[1])
    for p in found:
        print(p)
    if found:
        print(f"{len(found)} layering violations")
        sys.exit(1)
    print("layering: every include points down the table of DESIGN §2; signals/ and feeds/ are pure")
    sys.exit(rc)
