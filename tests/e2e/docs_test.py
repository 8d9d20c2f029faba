#!/usr/bin/python3
"""The docs are true to the binary:
  - every option `seismo <command> --help` lists is described in docs/cli.md under that command;
  - every command of README's "Using it" block runs (placeholders given real files: a recorded
    capture, the playbook as my.toml; `run` is stopped with SIGINT after a few seconds and must
    exit 0 after printing its summary), in a scratch directory.

usage: docs_test.py SEISMO_BINARY
"""
import gzip
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SEISMO = os.path.abspath(sys.argv[1])
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


# --- every --help option is in docs/cli.md, in its command's section
cli = open(os.path.join(ROOT, "docs", "cli.md")).read()
sections = {m.group(1): m.start() for m in re.finditer(r"^## `seismo (\w+)", cli, re.M)}
bounds = sorted(sections.values()) + [len(cli)]
for cmd, start in sections.items():
    end = min(b for b in bounds if b > start)
    text = cli[start:end]
    help_text = subprocess.run([SEISMO, cmd, "--help"], capture_output=True, text=True).stdout
    options = sorted(set(re.findall(r"^\s+(?:-\w,)?(--[a-z][a-z-]+)", help_text, re.M)) - {"--help"})
    missing = [o for o in options if f"`{o}" not in text]
    check("Usage" in help_text and not missing, f"docs/cli.md describes every option of `seismo {cmd}` "
          f"({len(options)}{'; missing ' + ', '.join(missing) if missing else ''})")
commands = re.findall(r"^\s+(\w+)\s{2,}", subprocess.run([SEISMO, "--help"], capture_output=True,
                                                        text=True).stdout, re.M)
check(set(commands) <= set(sections), f"docs/cli.md has a section per command ({commands})")

# --- README's "Using it" commands run
readme = open(os.path.join(ROOT, "README.md")).read()
block = re.search(r"## Using it\s+```sh\n(.*?)```", readme, re.S).group(1)
lines, cur = [], ""
for raw in block.splitlines():
    code = re.sub(r"\s+#.*$", "", raw).strip()
    if code.endswith("\\"):
        cur += code[:-1] + " "
        continue
    cur += code
    if cur:
        lines.append(cur)
    cur = ""
work = tempfile.mkdtemp(prefix="seismo_docs_")
try:
    os.chdir(work)
    os.makedirs("deploy/config")
    shutil.copy(os.path.join(ROOT, "deploy/config/playbook.toml"), "deploy/config/playbook.toml")
    shutil.copy(os.path.join(ROOT, "deploy/config/playbook.toml"), "my.toml")
    with open(os.path.join(ROOT, "tests/fixtures/recorded/binance-spot.tardis.txt"), "rb") as src, \
            gzip.open("capture.tardis.txt.gz", "wb") as dst:
        dst.write(src.read())
    for line in lines:
        argv = shlex.split(line)
        if argv[0] != "seismo":
            continue
        if "<command>" in argv:
            for c in commands:
                r = subprocess.run([SEISMO] + [c if a == "<command>" else a for a in argv[1:]],
                                   capture_output=True, text=True)
                check(r.returncode == 0 and "Usage" in r.stdout, f"README: seismo {c} --help")
            continue
        argv[0] = SEISMO
        if argv[1] == "run":
            argv += ["--listen", "127.0.0.1:0", "--speed", "1000"]  # any free port; the day fast
            p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(4)
            alive = p.poll() is None
            p.send_signal(signal.SIGINT)
            err = p.communicate(timeout=20)[1]
            check(alive and p.returncode == 0 and "seismo: stopped:" in err,
                  f"README: {line} (ran 4 s, SIGINT: exit {p.returncode})")
            continue
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, f"README: {line} (exit {r.returncode}{': ' + r.stderr[-300:] if r.returncode else ''})")
    check(os.path.exists("day.html") and os.path.getsize("day.html") > 1000, "README: the plot was written")
finally:
    os.chdir("/")
    shutil.rmtree(work, ignore_errors=True)

if failures:
    print(f"{len(failures)} failures")
    sys.exit(1)
print("all docs checks passed")
