"""The operator tool (``nova-migcompat``), run as a user would.

In-process through ``main()`` for what it prints, and as the installed
console script for what only a real process shows (exit status, stderr,
a closed pipe).  Every run names its own configuration file, so that a
nova.conf on the machine plays no part.
"""

from importlib import metadata
import json
import os
import random
import subprocess
import sys

import pytest
import yaml

from nova_migcompat.cmd import migcompat
from nova_migcompat import codec
from nova_migcompat.osc.v1 import trait
from tests import samples

GVT = samples.GVT
DESCRIPTOR = samples.NVIDIA_21
SCRIPT = os.path.join(os.path.dirname(sys.executable), 'nova-migcompat')


def commands():
    """The tool's commands by name, as cliff finds them."""
    return {ep.name.replace('_', ' '): ep.load()
            for ep in metadata.entry_points(group=migcompat.NAMESPACE)}


@pytest.fixture
def conf_file(tmp_path):
    path = tmp_path / 'nova.conf'
    path.write_text('[migcompat]\n')
    return str(path)


@pytest.fixture
def run(capsys, conf_file):
    def run(*argv):
        status = migcompat.main(['--config-file', conf_file] + list(argv))
        out = capsys.readouterr()
        return status, out.out, out.err
    return run


def script(*argv, stdin=None):
    """The console script in a process of its own."""
    return subprocess.run([SCRIPT] + list(argv), capture_output=True,
                          text=True, timeout=60, input=stdin)


def test_encode_then_decode_round_trips(run):
    status, out, _ = run('encode', '-f', 'json', DESCRIPTOR)
    assert status == 0
    encoded = json.loads(out)
    assert encoded['SRC trait'].startswith('CUSTOM_MIGCOMPAT_SRC_1')
    status, out, _ = run('decode', '-f', 'json', encoded['SRC trait'],
                         encoded['ACC trait'])
    assert status == 0
    src, acc = json.loads(out)
    assert src['String'] == acc['String'] == DESCRIPTOR
    assert (src['Role'], acc['Role']) == ('SRC', 'ACC')
    assert src['Format'] == 'json'
    assert src['Summary'] == 'nvidia 2.1 10de:1eb8 nvidia-35'


@pytest.mark.parametrize('fmt', ['table', 'json', 'yaml', 'value', 'csv'])
def test_every_output_format_of_openstack(run, fmt):
    name = codec.trait(codec.ACC, codec.encode(GVT))
    status, out, err = run('decode', '-f', fmt, name)
    assert (status, err) == (0, '')
    if fmt == 'json':
        assert json.loads(out)[0]['String'] == GVT
    elif fmt == 'yaml':
        assert yaml.safe_load(out)[0]['String'] == GVT
    elif fmt == 'csv':
        assert out.splitlines()[0] == ('"Input","Role","Token","Format",'
                                       '"Summary","String"')
    assert GVT in out
    assert 'i915 1.0 8086:591d i915-GVTg_V5_8' in out


def test_no_shell_format_to_eval(conf_file):
    # cliff's shell format escapes only '"': eval would run $(...).
    one_line_error(script('encode', '-f', 'shell', '$(touch /tmp/x)',
                          '--config-file', conf_file),
                   2, "invalid choice: 'shell'")


def test_columns_pick_one_value(run):
    status, out, _ = run('encode', '-f', 'value', '-c', 'SRC trait', GVT)
    assert status == 0
    assert out == codec.trait(codec.SRC, codec.encode(GVT)) + '\n'


def test_the_help_examples_are_real(run):
    status, out, _ = run('decode', '-f', 'value', '-c', 'String',
                         trait.EXAMPLE_TRAIT)
    assert (status, out) == (0, 'i915-GVTg_V5_8 1.0\n')


def test_decode_bad_traits_on_stderr_good_ones_shown(run):
    good = codec.trait(codec.SRC, codec.encode(GVT))
    status, out, err = run('decode', 'CUSTOM_GPU_FAST', good,
                           'CUSTOM_MIGCOMPAT_SRC_9ZZZ')
    assert status == 1
    lines = err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith('nova-migcompat: error: CUSTOM_GPU_FAST: ')
    assert 'not a nova-migcompat trait' in lines[0]
    assert 'of codec version 9Z, from a newer release' in lines[1]
    # The good trait in the middle is still decoded, on stdout.
    assert GVT in out and 'CUSTOM_GPU_FAST' not in out


def test_a_long_string_encodes_in_parts_and_decodes_from_them(run):
    rng = random.Random(23)
    text = ''.join(chr(rng.randrange(33, 127)) for _ in range(600))
    status, out, err = run('encode', text, '-f', 'json')
    assert (status, err) == (0, '')
    shown = json.loads(out)
    assert shown['Token'].startswith('2') and len(shown['Token']) == 18
    assert shown['ACC trait'] == codec.trait(codec.ACC, shown['Token'])
    parts = shown['SRC trait']
    assert len(parts) > 1
    status, out, err = run('decode', *parts, '-f', 'json')
    assert (status, err) == (0, '')
    [row] = json.loads(out)
    assert row['String'] == text and row['Token'] == shown['Token']
    assert row['Input'] == '%d parts of %s' % (len(parts), shown['Token'])
    # One part missing: not a string, never a guess.
    status, out, err = run('decode', *parts[1:])
    assert status == 1
    assert 'the parts of %s: incomplete: part 1 of %d missing' % (
        shown['Token'], len(parts)) in err
    # The ACC trait alone names the string, it does not hold it.
    status, _out, err = run('decode', shown['ACC trait'])
    assert status == 1 and 'give its SRC traits' in err


def test_encode_error_is_one_line_on_stderr(run):
    status, out, err = run('encode', 'caf\u00e9')
    assert status == 1
    assert out == ''
    assert err == ("nova-migcompat: error: non-ASCII character '\u00e9' at "
                   'offset 3\n')


def test_encode_reads_stdin(conf_file):
    result = script('encode', '-', '-f', 'value', '-c', 'String',
                    '--config-file', conf_file, stdin=GVT + '\n')
    assert (result.returncode, result.stdout) == (0, GVT + '\n')


def test_encode_reads_a_bounded_stdin(conf_file):
    # Not until memory runs out: the string cannot be longer than 4096.
    result = script('encode', '-', '--config-file', conf_file,
                    stdin='x' * 10 ** 6)
    one_line_error(result, 1, 'more than the 4096 allowed')
    # Only a few bytes past the bound were read, not the million.
    read = int(result.stderr.split('error: ', 1)[1].split(' bytes')[0])
    assert 4096 < read <= 4098


def test_decode_errors_show_no_control_characters(run):
    status, out, err = run('decode', 'CUSTOM_\x1b[31mX\nY')
    assert (status, out.strip()) == (1, '')
    assert err.count('\n') == 1 and '\x1b' not in err
    assert err.startswith('nova-migcompat: error: CUSTOM_\\x1b[31mX\\nY: ')


def test_device_list_of_a_sysfs_root(run, emulated_sysfs):
    fs = emulated_sysfs('no-attributes')
    status, out, _ = run('device', 'list', '--sysfs-root', str(fs.root),
                         '--long', '-f', 'json')
    assert status == 0
    devices = {d['Device']: d for d in json.loads(out)}
    vf = devices['0000:5e:00.1']
    assert vf['Origin'] == 'synthesized'
    assert vf['Summary'] == 'mlx5_vfio_pci 24.7 15b3:101e'
    assert vf['SRC trait'].startswith('CUSTOM_MIGCOMPAT_SRC_1')
    assert vf['Facts']['driver'] == 'mlx5_vfio_pci'
    # Listing reads only.
    assert fs.writes() == []


def test_device_check_asks_each_devices_source(run, emulated_sysfs):
    fs = emulated_sysfs(samples.keyvalue_readonly_spec())
    status, out, _ = run('device', 'check', '--sysfs-root', str(fs.root),
                         '-f', 'json')
    assert status == 0
    results = {(r['Target'], r['String of']): r['Result']
               for r in json.loads(out)}
    target = '0000:00:02.0/i915-GVTg_V5_2'
    assert results[(target, '0000:00:03.0/i915-GVTg_V5_8')] == 'accepts'
    assert results[(target, '0000:00:04.0/i915-GVTg_V5_16')] == 'refuses'
    # Read-only attributes are matched, never written.
    assert fs.writes() == []


def test_a_root_that_does_not_exist_is_an_error(run, tmp_path):
    status, out, err = run('device', 'list', '--sysfs-root',
                           str(tmp_path / 'nope'))
    assert (status, out) == (1, '')
    assert err == ('nova-migcompat: error: %s: sysfs root cannot be read: '
                   'ENOENT\n' % (tmp_path / 'nope'))


# The mistakes a new operator made, each a one-line error, no traceback.

def one_line_error(result, status, *words):
    assert result.returncode == status, result.stderr
    assert result.stdout == ''
    # One error line (a deprecation warning may come before it).
    lines = [line for line in result.stderr.splitlines()
             if ': warning: ' not in line]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith('nova-migcompat')
    assert 'Traceback' not in result.stderr
    for word in words:
        assert word in lines[0]


def test_a_missing_config_file(tmp_path):
    one_line_error(script('decode', 'x', '--config-file',
                          str(tmp_path / 'nova.conf')),
                   2, 'configuration file not found', 'nova.conf')


def test_a_config_file_that_is_a_directory_or_not_text(tmp_path):
    one_line_error(script('encode', 'x', '--config-file', str(tmp_path)),
                   2, 'the configuration file %s is a directory' % tmp_path)
    binary = tmp_path / 'binary.conf'
    binary.write_bytes(b'[migcompat]\nnodename = \xff\n')
    one_line_error(script('encode', 'x', '--config-file', str(binary)),
                   2, 'the configuration file %s is not UTF-8' % binary)


def test_a_malformed_config_file(tmp_path):
    path = tmp_path / 'nova.conf'
    path.write_text('[migcompat\ninterval = 60\n')
    one_line_error(script('--config-file', str(path), 'matrix'),
                   2, 'malformed configuration file %s' % path)


@pytest.mark.parametrize('setting, words', [
    ('[migcompat]\ninterval = often\n',
     ("invalid value 'often' for [migcompat]interval", 'not an integer')),
    ('[migcompat]\ninterval = 1\n',
     ('[migcompat]interval', 'must be at least')),
    ('[migcompat]\nmax_catalog_strings = 0\n',
     ('[migcompat]max_catalog_strings', 'must be at least')),
    ('[migcompat]\ndelete_unused_traits = maybe\n',
     ("'maybe'", 'not a boolean')),
    ('[placement]\ntimeout = soon\n', ('[placement]timeout',)),
])
def test_bad_values_are_found_at_start(tmp_path, setting, words):
    path = tmp_path / 'nova.conf'
    path.write_text(setting)
    # Even for a command that would not read the option.
    one_line_error(script('encode', 'x', '--config-file', str(path)),
                   2, str(path), *words)


def test_an_unknown_device_source(tmp_path):
    path = tmp_path / 'nova.conf'
    path.write_text('[migcompat]\ndevice_sources = sysfs,nvidia\n')
    one_line_error(script('device', 'list', '--config-file', str(path)),
                   1, 'nvidia')


def test_placement_not_configured(conf_file):
    one_line_error(script('matrix', '--config-file', conf_file),
                   1, 'placement is not configured', '[placement]',
                   'auth_type')


def test_an_unknown_command(conf_file):
    result = script('decodee', 'x', '--config-file', conf_file)
    one_line_error(result, 2, "'decodee x' is not a command",
                   "'decode'")


@pytest.mark.parametrize('typed', ['p', 'pu', 'stat', 'dec', 'd l',
                                   'devic list'])
def test_no_command_runs_from_a_prefix(conf_file, typed):
    # cliff ran a command from any unique prefix: "p" was purge.
    one_line_error(script(*(typed.split() + ['--config-file', conf_file])),
                   2, "'%s' is not a command" % typed)


def test_the_demo_is_not_in_the_product(conf_file):
    # A base install once ran "demo" and "devices --example" into a
    # traceback (missing extras); the demo is the lab's, not the tool's.
    one_line_error(script('demo', '--config-file', conf_file), 2,
                   "'demo' is not a command")


def test_an_unwritable_log_file(conf_file, tmp_path):
    (tmp_path / 'file').write_text('')
    log = tmp_path / 'file' / 'tool.log'
    one_line_error(script('encode', 'x', '--config-file', conf_file,
                          '--log-file', str(log)),
                   2, 'cannot open the log file %s (--log-file)' % log)


def test_a_missing_argument(conf_file):
    one_line_error(script('decode', '--config-file', conf_file),
                   2, 'decode: error:', 'TRAIT', '--help')


def test_a_closed_pipe_is_quiet(conf_file):
    # `nova-migcompat decode ... | head -1`: the reader goes away.
    names = [codec.trait(codec.SRC, codec.encode('s%d' % i))
             for i in range(3000)]
    proc = subprocess.Popen([SCRIPT, '--config-file', conf_file, 'decode',
                             '-f', 'value'] + names,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert first.startswith(b'CUSTOM_MIGCOMPAT_SRC_')
    assert err == b''


def test_version_help_and_no_arguments():
    result = script('--version')
    assert result.returncode == 0
    assert result.stdout.startswith('nova-migcompat ')
    result = script()
    assert result.returncode == 0
    out = result.stdout
    # The commands, each with its description; no oslo.log options.
    assert len(commands()) == 8
    for name in commands():
        assert '\n  %s ' % name in out
    assert '--log-config-append' not in out
    assert len(out.splitlines()) < 50


@pytest.mark.parametrize('name', sorted(commands()))
def test_every_command_has_a_description_and_examples(name):
    result = script(*(name.split() + ['--help']))
    assert result.returncode == 0
    assert 'Examples:\n  nova-migcompat %s' % name in result.stdout
    cls = commands()[name]
    assert cls.__doc__.strip().splitlines()[0] in result.stdout


def test_config_file_anywhere_and_the_default(tmp_path):
    path = tmp_path / 'nova.conf'
    path.write_text('[migcompat]\ninterval = often\n')
    for argv in (['--config-file', str(path), 'encode', 'x'],
                 ['encode', '--config-file', str(path), 'x'],
                 ['encode', 'x', '--config-file=%s' % path]):
        assert script(*argv).returncode == 2, argv


def test_hoisting_keeps_other_arguments():
    assert migcompat.hoist_config_options(
        ['encode', '--config-file', 'a', 'x', '--config-dir=d', '--',
         '--config-file']) == [
        '--config-file', 'a', '--config-dir=d', 'encode', 'x', '--',
        '--config-file']
