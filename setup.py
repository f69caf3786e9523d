"""Build step only (metadata lives in pyproject.toml).

The app reads alembic.ini, migrations/, templates/, data/ and tenants/ at run time. They stay at
the top level of the checkout; a built wheel carries copies inside the package (app/_bundled/), so
an installed wheel runs anywhere (app.config.PROJECT_ROOT picks whichever exists).
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
BUNDLED = ("alembic.ini", "migrations", "templates", "data", "tenants")


class BuildWithResources(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout itself
        target = Path(self.build_lib) / "app" / "_bundled"
        target.mkdir(parents=True, exist_ok=True)
        for name in BUNDLED:
            source = HERE / name
            if source.is_dir():
                ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
                shutil.copytree(source, target / name, dirs_exist_ok=True, ignore=ignore)
            else:
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": BuildWithResources})
