#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

import os

#: The test directories tempest discovers; the unit tests (``unit/``, run
#: with pytest, without a cloud) are not tempest tests.
TEMPEST_TEST_DIRS = ('scenario',)


def load_tests(loader, tests, pattern):
    """unittest's hook, as tempest's discovery runs it: scenario/ only."""
    here = os.path.dirname(os.path.abspath(__file__))
    top = os.path.dirname(os.path.dirname(here))
    for name in TEMPEST_TEST_DIRS:
        tests.addTests(loader.discover(os.path.join(here, name),
                                       pattern=pattern, top_level_dir=top))
    return tests
