"""An installed toyneg works anywhere: a built wheel, in a fresh virtual environment, runs a
canonical sweep by its bare name from a folder outside the repository."""

import glob
import os
import shutil
import subprocess
import sys
import sysconfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_built_wheel_runs_a_canonical_sweep_by_name_from_another_folder(tmp_path):
    src = tmp_path / "src"  # a copy of the source, so the build leaves nothing in the checkout
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", "results", "*.egg-info",
                                                             "__pycache__", ".cache-test", "build"))
    wheels = tmp_path / "wheels"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "-q", "-w", str(wheels), str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    whl, = glob.glob(str(wheels / "toyneg-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    # the dependencies (jax, flax, ...) come from this environment's site-packages, added as a
    # path: its editable toyneg is not (a .pth file's own .pth files are never processed)
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(site, "deps.pth"), "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    r = subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", whl],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["TOYNEG_CACHE"] = str(tmp_path / "cache")
    where = subprocess.run([py, "-c", "import toyneg, toyneg.sweeps as s; print(toyneg.__file__); "
                            "print(s.__file__)"], cwd=away, env=env, capture_output=True, text=True)
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(venv)) for line in where.stdout.split()), where.stdout
    r = subprocess.run([py, "-m", "toyneg.sweep", "default", "--shard", "0/5", "--dry-run"],
                       cwd=away, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "sweep 'default'" in r.stdout and "estimated time on this machine" in r.stdout
    assert os.path.join("toyneg", "sweeps", "default.toml") in r.stdout  # the packaged file
    r = subprocess.run([py, "-m", "toyneg.sweep", "no_such_sweep", "--dry-run"], cwd=away, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 2 and "canonical sweeps" in r.stderr and "diversity_cpu" in r.stderr
