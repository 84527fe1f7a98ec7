"""The rows both command lines render the fleet with."""

from nova_migcompat import fleet
from tests import samples

NVIDIA_21 = 'nvidia 2.1 10de:1eb8 nvidia-35'


def explain_result(requirements, hosts):
    return {'server': 'a0d0b2f6-70bd-4f0a-9d3e-5b4b1c0e9b44',
            'source_host': 'src',
            'source_devices': ['src_pci_0000_81_00_0'] if requirements
            else [],
            'requirements': requirements, 'hosts': hosts}


def test_explain_rows_source_first_then_verdicts():
    result = explain_result(
        [{'strings': [samples.NVIDIA_21], 'host_level': False}],
        {'newer': {'accepts': True, 'missing': [],
                   'devices': ['newer_pci_0000_81_00_0',
                               'newer_pci_0000_82_00_0']},
         'old': {'accepts': False, 'missing': [NVIDIA_21], 'devices': []}})
    columns, rows = fleet.explain_rows(result)
    assert columns == ('Host', 'Live Migration', 'Devices', 'Detail')
    assert rows == [
        ('src', 'source', ['pci_0000_81_00_0'], 'produces ' + NVIDIA_21),
        ('newer', 'accepted', ['pci_0000_81_00_0', 'pci_0000_82_00_0'], ''),
        ('old', 'refused', [], 'does not accept ' + NVIDIA_21)]


def test_explain_rows_without_tracked_devices():
    result = explain_result([], {'b': {'accepts': True, 'missing': [],
                                       'devices': []}})
    _columns, rows = fleet.explain_rows(result)
    assert rows[0] == (
        'src', 'source', [],
        'no device with a compatibility string: every host passes')
    assert rows[1] == ('b', 'accepted', [], '')


def test_explain_rows_keep_names_of_other_trees():
    # A host-level (PCI) acceptance is the root provider itself.
    result = explain_result(
        [{'strings': [samples.NVIDIA_21], 'host_level': True}],
        {'b': {'accepts': True, 'missing': [], 'devices': ['b']}})
    assert fleet.explain_rows(result)[1][1] == (
        'b', 'accepted', ['b'], '')


def test_matrix_rows():
    rows = [{'summary': NVIDIA_21, 'produced_by': ['a'],
             'accepted_by': ['a', 'b']},
            {'summary': 'other', 'produced_by': ['c'], 'accepted_by': []}]
    columns, cells = fleet.matrix_rows(['a', 'b', 'c'], rows)
    assert columns == ('Summary', 'a', 'b', 'c')
    assert cells == [(NVIDIA_21, 'accepts (source)', 'accepts', '-'),
                     ('other', '-', '-', '- (source)')]
