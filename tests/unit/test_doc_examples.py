"""The ``$ nova-migcompat ...`` examples of the docs, run as written.

Every example in README.rst and doc/source whose command needs neither
placement nor devices (``encode``, ``decode``) is run through the
operator tool, and its output must be the one the page shows.
"""

import pathlib
import shlex

import pytest

from nova_migcompat.cmd import migcompat

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGES = [ROOT / 'README.rst'] + sorted((ROOT / 'doc' / 'source').glob(
    '*.rst'))
RUNNABLE = ('encode', 'decode')


def examples():
    found = []
    for page in PAGES:
        lines = page.read_text().splitlines()
        for i, line in enumerate(lines):
            text = line.strip()
            if not text.startswith('$ nova-migcompat '):
                continue
            indent = line[:len(line) - len(line.lstrip())]
            output = []
            for following in lines[i + 1:]:
                if not following.strip() or following.strip().startswith(
                        '$ '):
                    break
                output.append(following[len(indent):])
            argv = shlex.split(text[len('$ nova-migcompat '):])
            if not set(argv) & set(RUNNABLE):
                continue
            found.append(pytest.param(argv, output,
                                      id='%s:%d' % (page.name, i + 1)))
    return found


EXAMPLES = examples()


def test_the_docs_have_runnable_examples():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize('argv, output', EXAMPLES)
def test_example(argv, output, tmp_path, capsys):
    conf = tmp_path / 'nova.conf'
    conf.write_text('')
    assert migcompat.main(['--config-file', str(conf)] + argv) == 0
    assert capsys.readouterr().out.splitlines() == output
