"""The layer order of the product, read from its own source.

The product (nova_migcompat) never imports the lab (migcompat_lab); the
shared core imports neither the agent side, nor the scheduler side, nor
the operator side; the agent side never imports Nova; and a wheel built
from the repository carries no emulator, demo or benchmark.
"""

import ast
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PRODUCT = ROOT / 'nova_migcompat'
#: Sub-packages and modules above the core.
SIDES = ('nova_migcompat.agent', 'nova_migcompat.scheduler',
         'nova_migcompat.cmd', 'nova_migcompat.osc', 'nova_migcompat.fleet',
         'nova_migcompat.status', 'nova_migcompat.purge')


def imports(path):
    """Every module a file imports (absolute names)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update('%s.%s' % (node.module, alias.name)
                         for alias in node.names)
    return found


def module_name(path):
    rel = path.relative_to(ROOT).with_suffix('')
    parts = rel.parts[:-1] if rel.name == '__init__' else rel.parts
    return '.'.join(parts)


def product_modules():
    return {module_name(p): p for p in sorted(PRODUCT.rglob('*.py'))}


def under(name, prefixes):
    return any(name == p or name.startswith(p + '.') for p in prefixes)


def test_the_product_never_imports_the_lab_or_the_tests():
    bad = {name: sorted(i for i in imports(path)
                        if under(i, ('migcompat_lab', 'tests')))
           for name, path in product_modules().items()}
    assert {k: v for k, v in bad.items() if v} == {}


def test_the_core_imports_no_side():
    core = {name: path for name, path in product_modules().items()
            if not under(name, SIDES)}
    assert 'nova_migcompat.requirements' in core
    bad = {name: sorted(i for i in imports(path) if under(i, SIDES))
           for name, path in core.items()}
    assert {k: v for k, v in bad.items() if v} == {}


def test_the_agent_side_never_imports_nova_or_the_scheduler():
    agent = {name: path for name, path in product_modules().items()
             if under(name, ('nova_migcompat.agent', 'nova_migcompat.cmd'))}
    assert 'nova_migcompat.agent.reporter' in agent
    bad = {name: sorted(i for i in imports(path)
                        if under(i, ('nova', 'nova_migcompat.scheduler')))
           for name, path in agent.items()}
    assert {k: v for k, v in bad.items() if v} == {}


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    # Built from a copy of the tracked files: setuptools would package
    # whatever an earlier build left in the checkout's build/.
    src = tmp_path_factory.mktemp('src')
    tracked = subprocess.run(['git', 'ls-files', '-z'], cwd=ROOT,
                             capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split('\0')):
        target = src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, target)
    out = tmp_path_factory.mktemp('wheel')
    result = subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '--no-deps',
         '--no-build-isolation', '-q', '-w', str(out), str(src)],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PBR_VERSION='0.0.0'))
    assert result.returncode == 0, result.stderr[-2000:]
    [path] = out.glob('nova_migcompat-*.whl')
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def test_the_wheel_holds_the_product_only(wheel):
    packages = {name.split('/')[0] for name in wheel
                if not name.split('/')[0].endswith('.dist-info')}
    assert packages == {'nova_migcompat'}
    assert 'nova_migcompat/scheduler/filters/' \
        'migration_compatibility_filter.py' in wheel
    lab = [name for name in wheel
           if any(word in name for word in ('emulat', 'demo', 'bench',
                                            'examples', 'fuse'))]
    assert lab == []
