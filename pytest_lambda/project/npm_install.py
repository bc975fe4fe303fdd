"""Node.js dependencies installed with the host's npm, native addons rebuilt for the runtime.

`npm ci` (with a `package-lock.json`; `npm install` without) runs on the host, production
dependencies only, install scripts off; packages that compile native code are rebuilt in the
runtime's build image (`images/builders.py`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pytest_lambda.config.packaging import Target
from pytest_lambda.errors import ConfigurationError
from pytest_lambda.project.manifests import local_node_packages
from pytest_lambda.project.reporting import shown
from pytest_lambda.project.tools import ToolFailed, install_error, run_tool
from pytest_lambda.system.locks import Progress


def install(manifest: Path, target: Target, tree: Path, staging: Path, who: str,
               progress: Progress) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise ConfigurationError(
            f"Installing the dependencies of {who} ({shown(manifest)}) needs npm on this "
            f"machine: install Node.js with npm."
        )
    shutil.copy2(manifest, tree / "package.json")
    lock = manifest.with_name("package-lock.json")
    if lock.is_file():
        shutil.copy2(lock, tree / "package-lock.json")
        cmd = [npm, "ci"]
    else:
        cmd = [npm, "install", "--no-package-lock"]
    # The user's .npmrc beside the manifest (a private registry) still applies: npm reads the
    # project's .npmrc from the prefix, so it comes along.
    npmrc = manifest.with_name(".npmrc")
    if npmrc.is_file():
        shutil.copy2(npmrc, tree / ".npmrc")
    local = local_node_packages(manifest)
    for rel, path in local.items():
        dest = tree / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            shutil.copytree(path, dest, symlinks=True)
        else:
            shutil.copy2(path, dest)
    cmd += ["--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error",
            "--no-update-notifier"]
    try:
        run_tool(cmd, what=f"npm installing {shown(manifest)}", progress=progress, cwd=tree)
    except ToolFailed as exc:
        errors = [line.strip() for line in exc.output.splitlines()
                  if line.startswith("npm ERR!") or line.startswith("npm error")]
        message = " ".join(errors[:12]) or " ".join(exc.output.splitlines()[-8:])
        raise install_error(manifest, target, who, message) from None
    for name in ("package.json", "package-lock.json", ".npmrc"):
        (tree / name).unlink(missing_ok=True)
    for rel, path in local.items():
        # A tarball is unpacked into node_modules; a folder stays (npm links it from there).
        if path.is_file():
            (tree / rel).unlink(missing_ok=True)
    native = native_node_packages(tree / "node_modules")
    if native:
        from pytest_lambda.images.builders import rebuild_node_modules

        rebuild_node_modules(tree / "node_modules", native, target, who=who, progress=progress)


def native_node_packages(modules: Path) -> list[str]:
    """Return the packages under `modules` that compile a native addon when installed (those
    with a `binding.gyp`), by their path relative to `modules`."""
    found: list[str] = []
    if not modules.is_dir():
        return found
    for package_json in sorted(modules.rglob("package.json")):
        package = package_json.parent
        rel = package.relative_to(modules)
        # A package's own directory: node_modules/name or node_modules/@scope/name (nested too).
        if rel.parts[-2:-1] not in ((), ("node_modules",)) and not (
            len(rel.parts) >= 2 and rel.parts[-2].startswith("@")
        ):
            continue
        # npm runs `node-gyp rebuild` for a package with a binding.gyp and no install script.
        if (package / "binding.gyp").is_file():
            found.append(rel.as_posix())
    return found
