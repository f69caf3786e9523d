"""Fail unless every package that requirements.lock pins for this interpreter and platform is
installed at exactly that version (lines whose environment marker does not apply are skipped)."""

import re
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement

wrong, checked = [], 0
for line in re.findall(r"^([A-Za-z0-9][^\n\\]*?)\s*\\$", Path(sys.argv[1]).read_text(), re.M):
    req = Requirement(line)
    if req.marker is not None and not req.marker.evaluate():
        continue
    (spec,) = req.specifier
    checked += 1
    try:
        installed = version(req.name)
    except PackageNotFoundError:
        installed = "missing"
    if installed != spec.version:
        wrong.append(f"{req.name}: locked {spec.version}, installed {installed}")
if wrong:
    sys.exit("ci: installed packages differ from the lock:\n  " + "\n  ".join(wrong))
print(f"ci: {checked} packages installed exactly as locked ({sys.argv[1]})")
