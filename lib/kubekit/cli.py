"""The ``kubekit`` command.

    kubekit runbook run NOTEBOOK|DIR... [-p NAME VALUE]... [-y YAML] [--output-root runs] [--timeout S]
    kubekit runbook params NOTEBOOK
    kubekit sandbox up [--zones N|a,b,c] [--nodes-per-zone N] [--clusters N] [--regions R,..] [--empty] [--profile P]
    kubekit sandbox down | status | env | reset | members
    kubekit sandbox isolate NAME [--mode timeout|reset] | restore NAME
    kubekit sandbox save NAME [--force] | restore NAME | checkpoints [--json] | delete-checkpoint NAME
    kubekit docs build [--output site] [--notebooks NOTEBOOK|DIR...] [--no-sandbox]
    kubekit lab [--port N] [--notebooks DIR] [--token T] [--clusters N] [--no-sandbox]
    kubekit eks-token --cluster-name NAME [--region R] [--target sandbox|aws|aws:PROFILE]
    kubekit federation run [--host-context C] [--kubeconfig K] [--resync S] [--once]
    kubekit drill list [--json] | run NAME [--context C ...] [-p NAME VALUE ...] [--output-root runs]

Exit codes: 0 success; 1 a runbook failed (a cell raised or a check failed),
or the sandbox could not be started/stopped, or ``sandbox status`` found it
not running; 2 usage errors, including parameters the notebook does not
declare or values of the wrong type (nothing is run or written then).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml


def _runbook_run(args: argparse.Namespace) -> int:
    from kubekit import runbook

    notebooks = runbook.find_notebooks(args.notebooks)
    if not notebooks:
        print("kubekit: no notebooks found", file=sys.stderr)
        return 2
    try:
        values = yaml.safe_load(args.yaml) if args.yaml else {}
    except yaml.YAMLError as exc:
        print(f"kubekit: -y is not valid YAML: {exc}", file=sys.stderr)
        return 2
    if values is None:
        values = {}
    if not isinstance(values, dict):
        print("kubekit: -y must be a YAML mapping of parameter names to values", file=sys.stderr)
        return 2
    text_values = [(name, value) for name, value in args.parameters or []]
    # Validate every notebook before running any, so a typo costs nothing.
    try:
        for nb in notebooks:
            if not nb.is_file():
                raise FileNotFoundError(f"no such notebook: {nb}")
            runbook.validate_parameters(nb, values, text_values)
    except (runbook.ParameterError, FileNotFoundError) as exc:
        print(f"kubekit: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # not JSON, not a notebook, ...
        print(f"kubekit: cannot read {nb} as a notebook: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2

    results = []
    for nb in notebooks:
        result = runbook.run(
            nb,
            values,
            text_parameters=text_values,
            output_root=args.output_root,
            timeout=args.timeout,
            kernel_name=args.kernel,
        )
        results.append(result)
        for check in result.checks:
            if not check["ok"]:
                print(f"  FAIL {result.name}: {check['name']}: {check['detail']}", file=sys.stderr)
        if result.error:
            err = result.error
            print(f"  ERROR {result.name} (cell {err.get('cell_index')}): {err['ename']}: {err['evalue']}", file=sys.stderr)
    _print_summary(results)
    return 0 if all(r.ok for r in results) else 1


def _print_summary(results: Sequence[Any]) -> None:
    rows = [("NOTEBOOK", "STATUS", "CHECKS", "DURATION", "OUTPUT")]
    for r in results:
        passed = sum(1 for c in r.checks if c["ok"])
        rows.append((r.notebook, r.status, f"{passed}/{len(r.checks)}", f"{r.duration_s:.1f}s", r.output_dir))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def _runbook_params(args: argparse.Namespace) -> int:
    from kubekit import runbook

    path = Path(args.notebook)
    if not path.is_file():
        print(f"kubekit: no such notebook: {path}", file=sys.stderr)
        return 2
    declared = runbook.notebook_parameters(path)
    if not declared:
        print(f"{path.name}: no cell tagged 'parameters'")
    for p in declared.values():
        print(f"  {p.name}: {p.type_name or '?'} = {p.default!r}" + (f"  # {p.help}" if p.help else ""))
    return 0


def _zones_arg(text: str) -> int | list[str]:
    return int(text) if text.isdigit() else [z for z in text.split(",") if z]


def _sandbox(args: argparse.Namespace) -> int:
    from kubekit import sandbox
    from kubekit.errors import KitError

    try:
        if args.action == "up":
            regions = [r for r in (args.regions or "").split(",") if r]
            info = sandbox.up(zones=_zones_arg(args.zones), nodes_per_zone=args.nodes_per_zone, empty=args.empty,
                              profile=args.profile, timeout=args.timeout, clusters=args.clusters, regions=regions)
            what = "empty (no cluster)" if args.empty else f"cluster 'sandbox' ready, context {info.context}"
            names = [m["name"] for m in sandbox.members()] if not args.empty else []
            if names:
                what += f"; members {', '.join(names)} (contexts named like them)"
            print(f"sandbox up: AWS at {info.endpoint} (pid {info.pid}), {what}; kubeconfig {info.kubeconfig}")
            if sys.stdout.isatty():
                print('point your shell at it with: eval "$(kubekit sandbox env)"')
        elif args.action == "reset":
            sandbox.reset()
            print("sandbox reset: stopped, and its AWS state, clusters, inventory and kubeconfig removed")
        elif args.action == "down":
            stopped = sandbox.down()
            print("sandbox stopped" if stopped else "sandbox was not running")
        elif args.action == "status":
            state = sandbox.status()
            print(json.dumps(state, indent=2))
            return 0 if state["state"] == "running" else 1
        elif args.action == "env":
            sys.stdout.write(sandbox.env())
        elif args.action == "members":
            print(json.dumps(sandbox.members(), indent=2))
        elif args.action in ("save", "checkpoints", "delete-checkpoint") or (
                args.action == "restore" and _restores_checkpoint(args)):
            return _checkpoint(args)
        elif args.action in ("isolate", "restore"):
            out = sandbox.set_reachable(args.name, args.action == "restore", mode=args.mode, region=args.region)
            state = "reachable again" if out["reachable"] else f"unreachable ({args.mode})"
            print(f"cluster {out['name']} ({out['region']}): API server {state}")
    except (sandbox.SandboxError, KitError) as exc:
        print(f"kubekit: {exc}", file=sys.stderr)
        return 1
    return 0


def _restores_checkpoint(args: argparse.Namespace) -> bool:
    """``sandbox restore NAME``: a checkpoint's name wins unless NAME is a running cluster (its reachability)."""
    from kubekit import sandbox
    from kubekit.sandbox import checkpoint

    if args.checkpoint:
        return True
    is_checkpoint = any(c.name == args.name for c in checkpoint.checkpoints())
    state = sandbox.status()
    is_cluster = args.name in {c.get("name") for c in state.get("clusters") or []} and state["state"] == "running"
    if is_checkpoint and is_cluster:
        raise sandbox.SandboxError(f"{args.name!r} is both a checkpoint and a cluster: "
                                   f"`kubekit sandbox restore --checkpoint {args.name}` restores the checkpoint")
    return is_checkpoint or not is_cluster  # neither: the checkpoint error lists the names that exist


def _checkpoint(args: argparse.Namespace) -> int:
    """``kubekit sandbox save|restore|checkpoints|delete-checkpoint``: whole-world checkpoints."""
    from kubekit.sandbox import checkpoint

    if args.action == "save":
        ck = checkpoint.save(args.name, overwrite=args.force)
        print(f"saved checkpoint {ck.name}: {len(ck.clusters)} cluster(s) ({', '.join(ck.clusters) or 'none'}), "
              f"{ck.size_bytes / 1e6:.1f} MB, {ck.aws_requests} AWS requests")
    elif args.action == "restore":
        done = checkpoint.restore(args.name)
        where = f"the running sandbox switched to it (away {done.downtime_s:.1f} s)" if done.was_running else \
            "start it with `kubekit sandbox up`"
        print(f"restored checkpoint {done.checkpoint.name} ({done.checkpoint.created}) in {done.seconds:.1f} s; {where}")
    elif args.action == "delete-checkpoint":
        checkpoint.delete(args.name)
        print(f"deleted checkpoint {args.name}")
    else:
        found = checkpoint.checkpoints()
        if args.json:
            print(json.dumps([c.to_dict() for c in found], indent=2))
        elif not found:
            print("no checkpoints (make one with `kubekit sandbox save NAME`)")
        else:
            rows = [("NAME", "CREATED", "SIZE", "CLUSTERS")] + [
                (c.name, c.created, f"{c.size_bytes / 1e6:.1f} MB", ", ".join(c.clusters) or "-") for c in found]
            widths = [max(len(r[i]) for r in rows) for i in range(3)]
            for r in rows:
                print("  ".join(cell.ljust(w) for cell, w in zip(r[:3], widths)) + "  " + r[3])
    return 0


def _docs(args: argparse.Namespace) -> int:
    """``kubekit docs build``: execute the notebooks against a fresh sandbox into a static site."""
    from kubekit import docs
    from kubekit.errors import KitError

    try:
        site = docs.build(args.notebooks, output=args.output, timeout=args.timeout, with_sandbox=not args.no_sandbox)
    except (KitError, OSError) as exc:
        print(f"kubekit: {exc}", file=sys.stderr)
        return 2
    for page in site.pages:
        print(f"  {page.status:<6} {page.duration_s:7.1f}s  {page.title}  ({page.html})")
    print(f"site: {site.index} ({len(site.pages)} notebooks, {site.failed} failed, {site.duration_s:.0f} s)")
    return 0 if site.failed == 0 else 1


def _lab(args: argparse.Namespace) -> int:
    """``kubekit lab``: the sandbox (unless running), then JupyterLab on 127.0.0.1; prints the URL with its token."""
    from kubekit import lab, sandbox
    from kubekit.errors import InvalidParameter, KitError

    try:
        opts = lab.options(args.notebooks, port=args.port, token=args.token, sandbox=not args.no_sandbox,
                           clusters=args.clusters, timeout=args.timeout)
    except InvalidParameter as exc:
        print(f"kubekit lab: {exc}", file=sys.stderr)
        return 2
    try:
        return lab.run(opts)
    except (KitError, sandbox.SandboxError, OSError) as exc:
        print(f"kubekit lab: {exc}", file=sys.stderr)
        return 1


def _eks_token(args: argparse.Namespace) -> int:
    """What ``aws eks get-token`` prints: an ExecCredential for kubectl and the Python client."""
    from kubekit.aws.target import resolve
    from kubekit.aws.token import get_token

    try:
        cred = get_token(resolve(args.target), args.cluster_name, args.region)
    except Exception as exc:  # kubectl shows stderr to the user
        print(f"kubekit eks-token: {exc}", file=sys.stderr)
        return 1
    json.dump(cred, sys.stdout)
    return 0


def _federation(args: argparse.Namespace) -> int:
    """``kubekit federation run``: the controller in the foreground, its timeline on stdout."""
    import signal
    import time

    from kubekit.errors import KitError
    from kubekit.federation import Federation

    def show(entry: object) -> None:
        print(entry, flush=True)

    try:
        fed = Federation(args.host_context, kubeconfig=args.kubeconfig, namespace=args.namespace,
                         resync_s=args.resync, on_event=show)
    except (KitError, OSError, ValueError) as exc:
        print(f"kubekit: {exc}", file=sys.stderr)
        return 1
    if args.once:
        report = fed.sync()
        fed.stop()
        print(json.dumps({"leader": report.leader, "members": report.members, "workloads": report.workloads,
                          "applied": report.applied, "deleted": report.deleted, "errors": report.errors}, indent=2))
        return 0 if not report.errors else 1
    stopping = []

    def on_signal(signum: int, _frame: object) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"kubekit federation: controlling host {args.host_context or '(current context)'}; Ctrl-C stops",
          flush=True)
    fed.start()
    try:
        while not stopping:
            time.sleep(0.2)
    finally:
        fed.stop()
        print("kubekit federation: stopped", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubekit", description="Runbooks and sandbox for stateful Kubernetes.")
    sub = parser.add_subparsers(dest="command", required=True)

    rb = sub.add_parser("runbook", help="run notebooks headless").add_subparsers(dest="action", required=True)
    run = rb.add_parser("run", help="execute notebooks into runs/<UTC time>-<name>/")
    run.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="notebook files or directories")
    run.add_argument(
        "-p", "--parameter", dest="parameters", nargs=2, action="append", metavar=("NAME", "VALUE"),
        help="set a parameter (converted to the type declared in the parameters cell)",
    )  # fmt: skip
    run.add_argument("-y", "--yaml", help="parameters as a YAML mapping (-p wins on conflicts)")
    run.add_argument("--output-root", default="runs", help="where run directories go (default: runs)")
    run.add_argument("--timeout", type=float, default=None, help="per-cell timeout in seconds (default: none)")
    run.add_argument("--kernel", default=None, help="kernel name (default: the notebook's)")
    run.set_defaults(func=_runbook_run)
    params = rb.add_parser("params", help="list a notebook's parameters")
    params.add_argument("notebook")
    params.set_defaults(func=_runbook_params)

    sb = sub.add_parser("sandbox", help="the embedded sandbox (kubesim) under $KUBEKIT_HOME")
    sb_sub = sb.add_subparsers(dest="action", required=True)
    sb_up = sb_sub.add_parser("up", help="start it (or reuse the running one) and bootstrap the 'sandbox' cluster")
    sb_up.add_argument("--zones", default="3", help="how many zones of us-east-1, or a comma-separated list")
    sb_up.add_argument("--nodes-per-zone", type=int, default=2)
    sb_up.add_argument("--clusters", type=int, default=0, metavar="N",
                       help="also bootstrap N single-zone member clusters, one per zone of us-east-1 "
                            "(member-us-east-1a, ...), 2 nodes each")
    sb_up.add_argument("--regions", default="", metavar="R,..",
                       help="also bootstrap one member cluster in the first zone of each region (member-eu-west-1a)")
    sb_up.add_argument("--empty", action="store_true", help="start AWS only; bootstrap no cluster")
    sb_up.add_argument("--profile", default=None, choices=("upstream", "fast", "instant"),
                       help="kubesim timing profile of a new sandbox (default fast: 10x faster than upstream)")
    sb_up.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for it to be ready")
    for action, help_text in (
        ("down", "stop it (state is kept)"),
        ("reset", "stop it and delete its whole world"),
        ("status", "show it; exit 1 when not running"),
        ("env", "print shell exports: eval \"$(kubekit sandbox env)\""),
        ("members", "list the member clusters (JSON: name, context, region, zone)"),
    ):
        sb_sub.add_parser(action, help=help_text)
    for action, help_text in (("isolate", "make a cluster's API server unreachable, as a lost cluster's"),
                              ("restore", "restore checkpoint NAME (the whole world), or make isolated cluster "
                                          "NAME's API server answer again")):
        p = sb_sub.add_parser(action, help=help_text)
        p.add_argument("name", help="cluster name, e.g. member-us-east-1b (restore: or a checkpoint's name)")
        p.add_argument("--region", default=None, help="only needed when two regions have a cluster of that name")
        p.add_argument("--mode", default="timeout", choices=("timeout", "reset"),
                       help="isolate: new connections time out (default) or are reset at once")
        p.add_argument("--checkpoint", action="store_true", help=argparse.SUPPRESS if action == "isolate" else
                       "restore: NAME is a checkpoint even if a cluster has that name")
    sb_save = sb_sub.add_parser("save", help="save the whole world (AWS, clusters, volume data) as checkpoint NAME")
    sb_save.add_argument("name", help="checkpoint name, e.g. after-02")
    sb_save.add_argument("--force", action="store_true", help="replace a checkpoint of that name")
    sb_list = sb_sub.add_parser("checkpoints", help="list the checkpoints (name, date, size, clusters)")
    sb_list.add_argument("--json", action="store_true")
    sb_del = sb_sub.add_parser("delete-checkpoint", help="remove checkpoint NAME")
    sb_del.add_argument("name")
    sb.set_defaults(func=_sandbox)

    fd = sub.add_parser("federation", help="the federation controller over member clusters")
    fd_sub = fd.add_subparsers(dest="action", required=True)
    fd_run = fd_sub.add_parser("run", help="run the controller until Ctrl-C (or one pass with --once)")
    fd_run.add_argument("--host-context", default=None, help="kubeconfig context of the host cluster")
    fd_run.add_argument("--kubeconfig", default=None, help="kubeconfig file (default: $KUBECONFIG, the sandbox's)")
    fd_run.add_argument("--namespace", default="kubekit-federation", help="namespace of member Secrets and the Lease")
    fd_run.add_argument("--resync", type=float, default=1.0, help="seconds between passes")
    fd_run.add_argument("--once", action="store_true", help="one pass, print a JSON report, exit")
    fd_run.set_defaults(func=_federation)

    from kubekit.drills.cli import add_parser as add_drill_parser

    add_drill_parser(sub)

    dc = sub.add_parser("docs", help="documentation snapshots").add_subparsers(dest="action", required=True)
    dc_build = dc.add_parser("build", help="execute every notebook against a fresh sandbox into a static site")
    dc_build.add_argument("--output", default="site", help="the site's directory (default: site)")
    dc_build.add_argument("--notebooks", nargs="+", default=["notebooks"], metavar="NOTEBOOK",
                          help="notebook files or directories, in lesson order (default: notebooks)")
    dc_build.add_argument("--timeout", type=float, default=600.0, help="per-cell timeout in seconds")
    dc_build.add_argument("--no-sandbox", action="store_true", help="do not start a sandbox (notebooks that need none)")
    dc_build.set_defaults(func=_docs)

    lb = sub.add_parser("lab", help="the sandbox, then JupyterLab on 127.0.0.1 with the notebooks (prints the URL)")
    lb.add_argument("--port", type=int, default=8888, help="port on 127.0.0.1 (default 8888; 0: any free port)")
    lb.add_argument("--notebooks", default="notebooks", help="directory JupyterLab opens (default: notebooks)")
    lb.add_argument("--token", default=None, help="access token (default: $JUPYTER_TOKEN, else a random one)")
    lb.add_argument("--clusters", type=int, default=0, metavar="N",
                    help="member clusters for a sandbox started here (lesson 03 adds them when missing)")
    lb.add_argument("--no-sandbox", action="store_true", help="do not start the sandbox (real clusters only)")
    lb.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for JupyterLab to answer")
    lb.set_defaults(func=_lab)

    tok = sub.add_parser("eks-token", help="print an EKS token (ExecCredential), like `aws eks get-token`")
    tok.add_argument("--cluster-name", required=True)
    tok.add_argument("--region", default="us-east-1")
    tok.add_argument("--target", default="sandbox", help="sandbox | aws | aws:<profile>")
    tok.set_defaults(func=_eks_token)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
