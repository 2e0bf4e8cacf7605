"""Debian trixie's CPython 3.13 unpacked into a sysroot, fetched without touching the system's apt.

Lambda's Python 3.13 runs on aarch64; no aarch64 CPython 3.13 is installable from PyPI here, but
Debian 13 (trixie) ships one, and `qemu-aarch64-static -L <sysroot>` runs it on x86_64. The same
recipe for amd64 gives a native Python 3.13 that compiles the bundle's bytecode
(`IMGPIPE_BYTECODE_PYTHON`) on a machine without one.

A private apt configuration (its own sources list, state, status and cache directories, the stock
Debian archive keyring) resolves the packages' dependencies as for an empty system and downloads the
.debs; `dpkg-deb -x` unpacks them. The result is cached under `.cache/sysroot/<arch>-<key>/`.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from imgpipe.config import PROJECT_ROOT

DEFAULT_CACHE_ROOT = PROJECT_ROOT / ".cache" / "sysroot"
SUITE = "trixie"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
PYTHON_PACKAGES = ("python3.13-minimal", "libpython3.13-minimal", "libpython3.13-stdlib")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
SYSTEM_SOURCES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))
COMPLETE_MARKER = ".complete"
# The dynamic loader of each architecture, relative to the sysroot (after the lib -> usr/lib link).
LOADERS = {"arm64": "lib/ld-linux-aarch64.so.1", "amd64": "lib64/ld-linux-x86-64.so.2"}
MULTIARCH = {"arm64": "aarch64-linux-gnu", "amd64": "x86_64-linux-gnu"}
_APT_TIMEOUT_SECONDS = 900


class SysrootError(RuntimeError):
    """apt or dpkg-deb could not produce the sysroot; carries their output."""


@dataclass(frozen=True)
class SysrootSpec:
    """Which packages of which Debian suite and architecture, from which mirror."""

    arch: str
    packages: tuple[str, ...] = PYTHON_PACKAGES
    suite: str = SUITE
    mirror: str = DEFAULT_MIRROR

    @property
    def key(self) -> str:
        material = "\n".join([self.arch, self.suite, self.mirror, *self.packages])
        return f"{self.arch}-{hashlib.sha256(material.encode()).hexdigest()[:16]}"


def system_mirror(sources: tuple[Path, ...] = SYSTEM_SOURCES) -> str:
    """The Debian archive the machine's own apt uses (the registry CI can reach), else deb.debian.org."""
    for path in sources:
        if not path.is_file():
            continue
        text = path.read_text()
        for uri in re.findall(r"^URIs:\s*(\S+)", text, flags=re.MULTILINE) + re.findall(
            r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)", text, flags=re.MULTILINE
        ):
            if uri.rstrip("/").endswith("/debian"):
                return uri.rstrip("/")
    return DEFAULT_MIRROR


def sources_list(spec: SysrootSpec, keyring: Path = KEYRING) -> str:
    return f"deb [arch={spec.arch} signed-by={keyring}] {spec.mirror} {spec.suite} main\n"


def apt_config(spec: SysrootSpec, apt_root: Path) -> str:
    """An apt.conf whose every directory is under `apt_root`: the system's apt state is never read or
    written. The status file is empty, so apt resolves dependencies as for a bare system."""
    user = pwd.getpwuid(os.geteuid()).pw_name
    lines = [
        f'Dir::Etc "{apt_root / "etc"}";',
        f'Dir::Etc::sourcelist "{apt_root / "etc" / "sources.list"}";',
        f'Dir::Etc::sourceparts "{apt_root / "etc" / "sources.list.d"}";',
        f'Dir::Etc::preferencesparts "{apt_root / "etc" / "preferences.d"}";',
        f'Dir::Etc::trustedparts "{apt_root / "etc" / "trusted.gpg.d"}";',
        f'Dir::State "{apt_root / "state"}";',
        f'Dir::State::status "{apt_root / "state" / "status"}";',
        f'Dir::Cache "{apt_root / "cache"}";',
        f'Dir::Log "{apt_root / "log"}";',
        f'APT::Architecture "{spec.arch}";',
        f'APT::Architectures {{ "{spec.arch}"; }};',
        'APT::Install-Recommends "false";',
        'APT::Install-Suggests "false";',
        'Acquire::Languages "none";',
    ]
    # Downloads run as this user instead of `_apt`, which cannot write a private cache.
    lines.append(f'APT::Sandbox::User "{user}";')
    return "\n".join(lines) + "\n"


def _run(command: list[str], what: str) -> str:
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=_APT_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SysrootError(f"{what}: {' '.join(command)} did not finish: {error}") from error
    if done.returncode != 0:
        raise SysrootError(f"{what} failed ({' '.join(command)}):\n{(done.stdout + done.stderr)[-3000:]}")
    return done.stdout


def _prepare_apt_root(spec: SysrootSpec, apt_root: Path) -> Path:
    for sub in (
        "etc/sources.list.d",
        "etc/preferences.d",
        "etc/trusted.gpg.d",
        "state/lists/partial",
        "cache/archives/partial",
        "log",
    ):
        (apt_root / sub).mkdir(parents=True, exist_ok=True)
    (apt_root / "state" / "status").touch()
    (apt_root / "etc" / "sources.list").write_text(sources_list(spec))
    config = apt_root / "apt.conf"
    config.write_text(apt_config(spec, apt_root))
    return config


def download_packages(spec: SysrootSpec, apt_root: Path) -> list[Path]:
    """The .debs of `spec.packages` and every dependency, resolved for an empty system."""
    config = _prepare_apt_root(spec, apt_root)
    env_free = ["apt-get", "-c", str(config), "-q"]
    _run([*env_free, "update"], f"apt-get update for Debian {spec.suite} {spec.arch}")
    _run([*env_free, "install", "--download-only", "-y", *spec.packages], "apt-get install --download-only")
    debs = sorted((apt_root / "cache" / "archives").glob("*.deb"))
    if not debs:
        raise SysrootError(f"apt downloaded no packages for {', '.join(spec.packages)}")
    return debs


def unpack(debs: list[Path], sysroot: Path) -> None:
    """`dpkg-deb -x` each package, then the merged-/usr links Debian's base-files would create."""
    for deb in debs:
        _run(["dpkg-deb", "-x", str(deb), str(sysroot)], f"dpkg-deb -x {deb.name}")
    for name in ("lib", "lib64", "bin", "sbin"):
        link, target = sysroot / name, sysroot / "usr" / name
        if target.is_dir() and not link.exists():
            link.symlink_to(Path("usr") / name)


def ensure_sysroot(spec: SysrootSpec, cache_root: Path = DEFAULT_CACHE_ROOT) -> Path:
    """Return the sysroot for `spec`, building it on a cache miss (a failure leaves no entry)."""
    target = cache_root / spec.key
    if (target / COMPLETE_MARKER).is_file():
        return target
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{spec.key}.", dir=cache_root))
    try:
        debs = download_packages(spec, staging / "apt")
        unpack(debs, staging / "root")
        (staging / "root" / COMPLETE_MARKER).write_text("".join(f"{deb.name}\n" for deb in debs))
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging / "root", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def python_path(sysroot: Path) -> Path:
    return sysroot / "usr" / "bin" / "python3.13"
