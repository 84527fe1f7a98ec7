"""The benchmark command runs, and its figures describe what happened.

Small sizes only; nothing here judges time.
"""

import json
import subprocess
import sys


def test_bench_small(tmp_path):
    output = tmp_path / 'bench.json'
    result = subprocess.run(
        [sys.executable, '-m', 'migcompat_lab.bench', '--hosts', '10,40',
         '--accepting-hosts', '12', '--burst', '6',
         '--devices', '4', '--catalogs', '6', '--incompatible', '2',
         '--types', '30', '--type-strings', '50', '--output', str(output)],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(output.read_text())

    assert [(row['fleet'], row['hosts']) for row in data['filter']] == [
        ('mixed', 10), ('mixed', 40), ('accepting', 12)]
    for row in data['filter']:
        live = row['live_migration']
        if row['fleet'] == 'mixed':
            # Hosts 0 and 1 of every 4 accept on both pGPUs / the first.
            assert row['expected_kept'] == sum(
                1 for i in range(row['hosts']) if i % 4 < 2)
            assert row['expected_candidates'] == sum(
                (2, 1, 0, 0)[i % 4] for i in range(row['hosts']))
        else:
            assert row['expected_kept'] == row['hosts']
            assert row['expected_candidates'] == 2 * row['hosts']
        # The accepting pGPUs, and the source's own two.
        assert row['listing']['providers'] == \
            row['expected_candidates'] + 2 == live['memory']['providers']
        for name in ('with_filter', 'filter_alone', 'filter_new_migration',
                     'filter_cold'):
            assert live[name]['kept'] == row['expected_kept']
            assert live[name]['candidates_kept'] == \
                row['expected_candidates']
        # Cold: the allocations, the source pGPU's traits, the withdrawal
        # epoch, who accepts its string; a new migration: the first
        # three; warm: the allocations and the epoch.
        assert live['filter_cold']['placement_requests'] == 4
        assert live['filter_new_migration']['placement_requests'] == 3
        assert live['filter_alone']['placement_requests'] == 2
        assert live['with_filter']['placement_requests'] == 2
        # Judged by the instance's own strings (VM markers): the same
        # hosts and candidates, no request more than by the provider's.
        for caches, requests in (('warm', 2), ('new_migration', 3)):
            for rule in ('by_markers', 'by_provider'):
                figures = row['markers'][caches][rule]
                assert figures['kept'] == row['expected_kept']
                assert figures['candidates_kept'] == \
                    row['expected_candidates']
                assert figures['placement_requests'] == requests
        # A burst of 6 new migrations: the list read once under the
        # epoch, twice when a withdrawal is announced halfway, every time
        # without the cache (which reads no epoch).
        burst = row['burst']
        assert burst['cached']['listings'] == 1
        assert burst['cached']['placement_requests'] == 4 + 5 * 3
        assert burst['cached_withdrawal']['listings'] == 2
        assert burst['cached_withdrawal']['placement_requests'] == \
            4 + 5 * 3 + 1
        assert burst['no_cache']['listings'] == 6
        assert burst['no_cache']['placement_requests'] == 6 * 3
        assert live['memory']['peak_mib'] >= live['memory']['kept_mib'] > 0
        for name in ('default_chain', 'noop_alone'):
            assert live[name]['kept'] == row['hosts']
            assert live[name]['placement_requests'] == 0
        for kind in ('cold_migration', 'boot'):
            for figures in row[kind].values():
                assert figures['kept'] == row['hosts']
                assert figures['placement_requests'] == 0

    (cycle,) = data['reporter']
    assert cycle['found_devices'] == 4 and cycle['providers'] == 5
    assert cycle['first']['writes'] > 0
    # The cycles after publishing read back every provider's traits, the
    # last cycle to write moved the tree's Last-Modified header; then a
    # steady cycle reads the tree and the catalog only.
    assert cycle['after_publishing']['requests'] == [2 + 5, 2 + 5]
    assert cycle['after_publishing']['writes'] == [0, 0]
    assert cycle['steady']['writes'] == 0
    assert cycle['steady']['reads'] == cycle['steady']['requests'] == 2
    # The first cycle asks every device about every string; then the
    # recorded verdicts are reused: no check, no kernel write.
    assert cycle['first']['checks'] == 4 * 6
    assert cycle['first']['kernel_writes'] == 4 * 6
    assert cycle['steady']['checks'] == 0
    assert cycle['steady']['kernel_writes'] == 0
    # 2.1 devices accept 2.0 and 2.1; 2.3 devices also 2.2 and 2.3; the
    # catalog of 6 holds 2.1, 2.3, 2.0 and three other majors.
    assert cycle['accepted'] == 2 * 2 + 2 * 3

    fleet = data['fleet_rate']
    # Part (c) measured 4 pGPUs: part (e) measured a 2-pGPU host itself.
    assert fleet['devices'] == 2 and fleet['providers'] == 3
    assert fleet['steady_reads'] == 2 and fleet['steady_writes'] == 0
    rates = {(r['state'], r['hosts']): r for r in fleet['rates']}
    assert rates['steady', 10000]['per_second'] == {
        '60': 2 * 10000 / 60, '120': 2 * 10000 / 120,
        '300': 2 * 10000 / 300, '600': 2 * 10000 / 600}
    assert rates['steady', 1000]['per_second']['60'] == 2 * 1000 / 60
    assert rates['after_publishing', 1000]['requests_per_cycle'] == 2 + 3
    assert rates['publishing', 1000]['requests_per_cycle'] == \
        fleet['first_requests'] / fleet['first_cycles'] > 2 + 3

    (e2e,) = data['end_to_end']
    assert e2e['stock']['final_host'].startswith('bad-')
    assert not e2e['stock']['compatible']
    assert e2e['filter']['final_host'] == 'good'
    assert e2e['filter']['compatible']
    assert e2e['filter']['scheduling_attempts'] == 1
    assert e2e['filter']['destination_prechecks'] == 1

    (many,) = data['many_types']
    # 30 types x (50 fleet strings + their own 30), 1000 checks a cycle:
    # the rest waits.
    assert (many['types'], many['strings']) == (30, 50)
    assert many['pairs'] == 30 * 80
    assert many['checks'] == 1000
    assert many['waiting'] == 30 * 80 - 1000
    assert many['agent_peak_mib'] > 0 and many['device_process_peak_mib'] > 0

    out = result.stdout
    assert '(a) A live-migration scheduling request' in out
    assert '(a) A burst of live migrations' in out
    assert '(d) One live migration' in out
    assert "(e) The agents' requests to placement, fleet-wide" in out
    assert '(f) The agent on a host with many device types' in out
    assert 'Figures written to %s' % output in out


def test_bench_refuses_bad_arguments():
    result = subprocess.run(
        [sys.executable, '-m', 'migcompat_lab.bench', '--parts', 'ax'],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "--parts: letters of 'abcdef', got 'ax'" in result.stderr


def test_bench_refuses_sizes_it_cannot_make():
    result = subprocess.run(
        [sys.executable, '-m', 'migcompat_lab.bench', '--catalogs', '101'],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert '--catalogs: at most 100 (distinct driver versions' in \
        result.stderr
