"""``kubekit drill``: the drill catalogue and one drill run from a terminal.

    kubekit drill list [--json]
    kubekit drill run NAME [--context C ...] [--kubeconfig K] [-p NAME VALUE ...] [--output-root runs]
                      [--target sandbox|aws|aws:PROFILE] [--confirm-account ID] [--region R]
                      [--grade-slack S] [--no-progress] [--no-plot]

``run`` shows one progress line per phase (stderr), prints the report, and writes it to
``<output-root>/<UTC time>-drill-<name>/`` (journal.json, timeline.json, timeline.png,
report.txt, result.json). Exit codes: 0 the drill passed; 1 it failed, was refused or
could not run; 2 bad usage (unknown drill or parameter, a value of the wrong type, a
context missing from the kubeconfig): nothing is run or written then.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import InvalidParameter, KitError


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``drill list`` and ``drill run`` to the ``kubekit`` subcommands."""
    dr = sub.add_parser("drill", help="failure drills: list the catalogue, run one")
    dr_sub = dr.add_subparsers(dest="action", required=True)
    ls = dr_sub.add_parser("list", help="the drill catalogue with parameters and defaults")
    ls.add_argument("--json", action="store_true", help="print the catalogue as JSON")
    ls.set_defaults(func=_list)
    run = dr_sub.add_parser("run", help="run one drill; report to <output-root>/<UTC time>-drill-<name>/")
    run.add_argument("name", help="drill name (node-stop) or catalogue id (D5)")
    run.add_argument("--context", dest="contexts", action="append", default=None, metavar="C",
                     help="kubeconfig context (repeat, or comma-separate, for several; default: sandbox, plus "
                          "its members for federation drills)")
    run.add_argument("--kubeconfig", default=None, help="kubeconfig file (default: $KUBECONFIG, then the sandbox's)")
    run.add_argument("-p", "--parameter", dest="parameters", nargs=2, action="append", default=None,
                     metavar=("NAME", "VALUE"), help="a drill parameter (converted to its default's type)")
    run.add_argument("--output-root", default="runs", help="where run directories go (default: runs)")
    run.add_argument("--target", default="sandbox", help="AWS target: sandbox (default), aws or aws:<profile>")
    run.add_argument("--confirm-account", default=None, metavar="ID",
                     help="real AWS only: the account id the drill may act in (safety gate)")
    run.add_argument("--region", default="us-east-1")
    run.add_argument("--grade-slack", type=float, default=0.5, metavar="S",
                     help="wall seconds of latency allowed around each expected window (default 0.5)")
    run.add_argument("--no-progress", action="store_true", help="no progress lines")
    run.add_argument("--no-plot", action="store_true", help="skip timeline.png")
    run.set_defaults(func=_run)
    return dr


def _list(args: argparse.Namespace) -> int:
    from .base import catalogue
    from .session import catalogue_table, describe

    cat = catalogue()
    if args.json:
        print(json.dumps([describe(c) for c in cat.values()], indent=2, default=str))
    else:
        print(catalogue_table(cat.values()))
    return 0


def _run(args: argparse.Namespace) -> int:
    from .session import run_drill

    try:
        contexts = [c for given in args.contexts or [] for c in given.split(",") if c] or None
        out = run_drill(args.name, contexts=contexts, kubeconfig=args.kubeconfig,
                        params=[(k, v) for k, v in args.parameters or []], output_root=args.output_root,
                        target=args.target, confirm_account=args.confirm_account, region=args.region,
                        progress=not args.no_progress, grade_slack=args.grade_slack, plot=not args.no_plot)
    except InvalidParameter as exc:
        print(f"kubekit drill: {exc}", file=sys.stderr)
        return 2
    except KitError as exc:
        print(f"kubekit drill: {exc}", file=sys.stderr)
        return 1
    res = out.result
    print(res.table())
    for c in out.record["checks"]:
        if not c["ok"]:
            print(f"  FAIL {c['name']}" + (f": {c['detail']}" if c["detail"] else ""), file=sys.stderr)
    print(f"\n{res.drill}: {'PASSED' if out.ok else 'FAILED (' + res.status + ')'}; report in {out.directory}")
    return 0 if out.ok else 1
